import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { once, type Component } from '../../lib/lifecycle.js';
import { TypedEmitter } from '../../lib/typed-emitter.js';
import {
  Catalog,
  checkAppId,
  type AppSettingsChange,
  type StagedPackage,
} from '../catalog/index.js';
import { diskFullCause } from '../disk/index.js';
import { AppvisorError } from '../errors/index.js';
import { Journal } from '../store/index.js';
import type { AppState } from '../supervisor/index.js';
import { AppUsers } from './app-users.js';
import { bootApps } from './boot.js';
import type { AppContext } from './context.js';
import {
  configure,
  restartApp,
  startApp,
  stopApp,
  stopProcess,
  type ControlResult,
} from './control.js';
import {
  archiveInstalled,
  discardStaged,
  install,
  receivePackage,
  stage,
  uninstall,
} from './install.js';
import { checkMemoryKills } from './limits.js';
import { loadApp, statusOf } from './loader.js';
import { stageSdk } from './sdk.js';
import type {
  AppServiceEvents,
  AppServiceOptions,
  AppStatus,
  AppSummary,
  InstallOptions,
  LoadedApp,
} from './types.js';

/**
 * Installs, runs and supervises apps (specs/app-container.md): the one implementation that
 * the API, the CLI and the UI drive. Operations on one app are serialized; different apps
 * proceed in parallel.
 *
 * A facade: the jobs live beside it (install.ts, control.ts, boot.ts and leftovers.ts,
 * loader.ts, service-channel.ts, app-users.ts, sdk.ts), which share one {@link AppContext}.
 * What the service processes say goes up as {@link AppServiceEvents} ({@link on}); what the
 * app service must ask the subsystems above it comes in through its options (`instances`,
 * `updateGuard`), never through a setter.
 */
export class AppService implements Component {
  readonly name = 'apps';
  readonly #ctx: AppContext;
  readonly #emitter = new TypedEmitter<AppServiceEvents>();
  #sdkUrl: string | undefined;
  #memoryTimer: NodeJS.Timeout | undefined;

  constructor(options: AppServiceOptions) {
    const catalog = new Catalog({
      store: options.store,
      nodeId: options.nodeId,
      appsDir: options.appsDir,
      appdataDir: options.appdataDir,
      ...(options.limits ? { limits: options.limits } : {}),
    });
    const journal = new Journal(options.store, options.nodeId);
    const apps = new Map<string, LoadedApp>();
    const ctx: AppContext = {
      options,
      catalog,
      journal,
      apps,
      queue: new KeyedQueue(),
      users: new AppUsers({ catalog, journal, logger: options.logger, pause: options.pause }),
      emitter: this.#emitter,
      sdkUrl: () => this.#sdkUrl,
      get: (id) => {
        const app = apps.get(id);
        if (!app) throw new AppvisorError('APP_NOT_FOUND', `no app "${id}" is installed`);
        return app;
      },
      load: (record) => loadApp(ctx, record),
      statusOf: (app) => statusOf(ctx, app),
      stopProcess,
    };
    this.#ctx = ctx;
  }

  /**
   * Calls `listener` for every `name` from now on (see {@link AppServiceEvents}); returns
   * what unsubscribes it.
   */
  on<Name extends keyof AppServiceEvents>(
    name: Name,
    listener: (payload: AppServiceEvents[Name]) => void,
  ): () => void {
    return this.#emitter.on(name, listener);
  }

  /**
   * Boot: repair interrupted installs, stop processes a previous manager left running, drop
   * apps whose folder is gone (with an event), start the runnable autostart ones.
   */
  async start(): Promise<void> {
    const { options } = this.#ctx;
    this.#sdkUrl = await stageSdk(options.runDir, options.sdkBundle, options.logger);
    if (options.sandbox?.enforcement.startsWith('cgroup')) {
      this.#memoryTimer = setInterval(() => {
        checkMemoryKills(this.#ctx);
      }, 2_000);
      this.#memoryTimer.unref();
    }
    await bootApps(this.#ctx);
  }

  // --- what the subsystems above and the front read ---------------------------------------

  /** Trace flags the app declares in app.json besides the platform's. */
  traceFlagsOf(id: string): string[] {
    return this.#ctx.apps.get(id)?.manifest.traceFlags ?? [];
  }

  /** Whether the app is installed and hosts instances (app.json `instances: true`). */
  hostsInstances(id: string): boolean | undefined {
    const app = this.#ctx.apps.get(id);
    return app ? app.manifest.instances === true : undefined;
  }

  /** The app's system user (root only), for folders it must own. */
  ownerOf(id: string): { uid: number; gid: number } | null {
    return this.#ctx.users.owner(this.#ctx.apps.get(id)?.record.unixUser) ?? null;
  }

  /** Writes a note of the manager's own to the app's log (an `[appvisor]` line). */
  note(id: string, text: string): void {
    this.#ctx.apps.get(id)?.log.note(text);
  }

  /** Where the app's service serves HTTP, while it runs. */
  httpSocketOf(id: string): string | null {
    return this.#ctx.apps.get(id)?.httpSocket ?? null;
  }

  /** The app's `web.static` folder, served by the front, when app.json names one. */
  staticDirOf(id: string): string | undefined {
    const app = this.#ctx.apps.get(id);
    const folder = app?.manifest.web?.static;
    return app && folder ? join(this.#ctx.catalog.folder(id), folder) : undefined;
  }

  /** How to hand a socket to the app's service, when it takes handoffs. */
  handoffOf(id: string): ((message: object, socket: Socket) => void) | undefined {
    return this.#ctx.apps.get(id)?.handoff;
  }

  /** The app's writable folder. */
  dataFolder(id: string): string {
    return this.#ctx.catalog.dataFolder(id);
  }

  /**
   * Every installed app's process as the supervisor sees it now, sorted by id: what the monitor
   * samples (synchronous, unlike {@link list}, which asks the catalog).
   */
  processes(): { id: string; state: AppState; pid: number | null; restarts: number }[] {
    return this.#sorted().map((app) => ({
      id: app.record.id,
      state: app.supervisor.state,
      pid: app.supervisor.pid,
      restarts: app.supervisor.status().restarts,
    }));
  }

  async status(id: string): Promise<AppStatus> {
    checkAppId(id);
    return this.#ctx.statusOf(this.#ctx.get(id));
  }

  async list(): Promise<AppSummary[]> {
    return Promise.all(
      this.#sorted().map(async (app) => ({
        id: app.record.id,
        version: app.manifest.version ?? null,
        autostart: app.record.autostart,
        runnable: await this.#ctx.catalog.isRunnable(app.record.id),
        state: app.supervisor.state,
      })),
    );
  }

  #sorted(): LoadedApp[] {
    return [...this.#ctx.apps.values()].sort((a, b) => a.record.id.localeCompare(b.record.id));
  }

  /** The app's log: the last `lines`, and, when `follow` is given, every new line. */
  async logs(
    id: string,
    lines: number,
  ): Promise<{ lines: string[]; follow: (listener: (line: string) => void) => () => void }> {
    checkAppId(id);
    const app = this.#ctx.get(id);
    return { lines: await app.log.tail(lines), follow: (listener) => app.log.follow(listener) };
  }

  // --- operations (control.ts, install.ts) -------------------------------------------------

  /** Starts an app; `changed` is false when it was already running or starting. */
  startApp(id: string): Promise<ControlResult> {
    return startApp(this.#ctx, id);
  }

  /** Stops an app (TERM, then KILL after the grace time); resolves when it has ended. */
  stopApp(id: string): Promise<ControlResult> {
    return stopApp(this.#ctx, id);
  }

  restartApp(id: string): Promise<ControlResult> {
    return restartApp(this.#ctx, id);
  }

  /**
   * An app's own settings as stored: null where it follows the configured default (status
   * shows the effective values instead). What a configuration export writes.
   */
  settingsOf(id: string): Required<AppSettingsChange> {
    checkAppId(id);
    const { autostart, logMaxBytes, logFiles, memoryMaxBytes, cpuWeight, pidsMax } =
      this.#ctx.get(id).record;
    return { autostart, logMaxBytes, logFiles, memoryMaxBytes, cpuWeight, pidsMax };
  }

  /** Stores settings at once; never starts or stops the app (see control.ts). */
  configure(id: string, change: AppSettingsChange): Promise<AppStatus> {
    return configure(this.#ctx, id, change);
  }

  /**
   * Installs (or re-installs) an app from an archive, or from a package {@link stage}d before;
   * on any failure the previous version is installed and, if it ran, running again (see
   * install.ts).
   */
  install(archive: string | StagedPackage, options: InstallOptions = {}): Promise<AppStatus> {
    return install(this.#ctx, archive, options);
  }

  /**
   * Unpacks and checks a package without installing it: its id and manifest are known before
   * {@link install} takes it. Install it or {@link discardStaged} it.
   */
  stage(
    archivePath: string,
    options: Pick<InstallOptions, 'id' | 'expect'> = {},
  ): Promise<StagedPackage> {
    // A disk that fills up while unpacking is said as such (DISK_FULL), as install does.
    return stage(this.#ctx, archivePath, options).catch(async (error: unknown) => {
      throw await diskFullCause(error, 'installing an app', this.#ctx.options.appsDir);
    });
  }

  /** Throws a staged package away; nothing when {@link install} took it. */
  discardStaged(staged: StagedPackage): Promise<void> {
    return discardStaged(this.#ctx, staged);
  }

  /**
   * Receives an upload into a temporary file (at most `maxPackageBytes`), hands its path to
   * `use`, and removes the file afterwards.
   */
  receivePackage<T>(source: Readable, use: (path: string) => Promise<T>): Promise<T> {
    return receivePackage(this.#ctx, source, use);
  }

  /** Writes the installed folder of an app as a tar archive to `target`. */
  archiveInstalled(
    id: string,
    target: string,
    options: { reproducible?: boolean } = {},
  ): Promise<void> {
    return archiveInstalled(this.#ctx, id, target, options);
  }

  /**
   * Stops the app, removes its folders, its log files, its user and its row. An app with
   * instances is refused (APP_HAS_INSTANCES) unless `force`, which deletes them first.
   */
  uninstall(id: string, options: { force?: boolean } = {}): Promise<void> {
    return uninstall(this.#ctx, id, options);
  }

  /** Stops every app in parallel (TERM, then KILL after each one's grace time). */
  readonly close = once(async () => {
    clearInterval(this.#memoryTimer);
    await Promise.all(
      [...this.#ctx.apps.values()].map(async (app) => {
        // A gave-up app has no process; a stop would clear its alarm, which a shutdown must not.
        if (app.supervisor.state !== 'fatal') await stopProcess(app);
        await app.log.close();
      }),
    );
    this.#ctx.options.sandbox?.close();
  });

  destroy(): void {
    clearInterval(this.#memoryTimer);
    for (const app of this.#ctx.apps.values()) app.supervisor.destroy();
  }
}
