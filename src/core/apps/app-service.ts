import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { blockingFolder } from '../../lib/folder-access.js';
import {
  createSystemUser,
  ensureSystemUser,
  lookupUser,
  removeSystemUser,
  type SystemUser,
} from '../../lib/os-users.js';
import { noPause, type Pause } from '../../lib/pause-points.js';
import {
  commandLine,
  isAlive,
  listProcesses,
  processInfo,
  waitForExit,
} from '../../lib/processes.js';
import { chownTree, ensureFolder, removeTree } from '../../lib/safe-fs.js';
import {
  Catalog,
  checkAppId,
  randomUnixUserName,
  unixUserCandidates,
  type AppRecord,
  type AppSettingsChange,
  type Manifest,
  type PackageLimits,
} from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';
import { reconcileAlarms, type ActiveAlarm, type AlarmRaiser } from '../alarms/index.js';
import { diskFullCause, diskFullError } from '../disk/index.js';
import type { EventLog } from '../events/index.js';
import { AppLog, defaultLogLimits, type LogLimits } from '../logs/index.js';
import {
  defaultServiceLimits,
  MessageLimiter,
  type MessageKind,
  type ServiceLimits,
} from './service-limits.js';
import { Journal, type Store } from '../store/index.js';
import {
  AppSupervisor,
  defaultRestartPolicy,
  processLauncher,
  signalGroup,
  systemClock,
  type AppState,
  type Clock,
  type Launcher,
  type Enforcement,
  type ProcessSpec,
  type ResourceLimits,
  type RestartPolicy,
  type Sandbox,
  type SupervisorNotice,
  type SupervisorStatus,
} from '../supervisor/index.js';

/** `status(id)` of specs/app-container.md: the supervisor's view plus the app's settings. */
export interface AppStatus extends SupervisorStatus {
  id: string;
  version: string | null;
  /** app.json's `build`: orders versions in an app store. */
  build: number | null;
  title: string | null;
  runnable: boolean;
  autostart: boolean;
  /** Whether it is a service hosting instances. */
  instances: boolean;
  /** Where the service serves HTTP while it runs (services only). */
  httpSocket: string | null;
  log: LogLimits;
  limits: AppLimitsStatus;
}

/** An app's resource limits as status shows them, and how they are enforced. */
export interface AppLimitsStatus extends ResourceLimits {
  enforcement: Enforcement;
  /** Times the kernel killed a process of the app for its memory cap (since the manager started). */
  memoryKills: number;
}

/** Defaults of the resource limits (config `apps.memoryMaxBytes`, `cpuWeight`, `pidsMax`). */
export const defaultResourceLimits: ResourceLimits = {
  memoryMaxBytes: 1024 * 1024 * 1024,
  cpuWeight: 100,
  pidsMax: 512,
};

/** Options of {@link AppService.install}. */
export interface InstallOptions {
  /** The package's folder must carry this name. */
  id?: string;
  /**
   * Start the app with the manager. Not given: off for a new app, kept by a re-install. A
   * re-install brings the app back to the state it was in (running again if it ran); `true`
   * starts it in any case, as on a first install.
   */
  autostart?: boolean;
  /** Empty the app's data folder (instance folders excepted). */
  purge?: boolean;
  /** What app.json must say (an app store's index entry); PACKAGE_INVALID otherwise. */
  expect?: { version: string; build: number };
  /** The caller has backed the instances up already (an app store update). */
  skipUpdateHook?: boolean;
}

/** Refuses resource limits outside what the kernel and the apps can live with. */
function checkLimits(change: AppSettingsChange): void {
  const checks = [
    [
      'memoryMaxBytes',
      16 * 1024 * 1024,
      Number.MAX_SAFE_INTEGER,
      'the memory cap must be at least 16 MiB',
    ],
    ['cpuWeight', 1, 10_000, 'the CPU weight must be 1 to 10000'],
    ['pidsMax', 16, 4_194_304, 'the process limit must be 16 to 4194304'],
  ] as const;
  for (const [field, min, max, message] of checks) {
    const value = change[field];
    if (value != null && (!Number.isInteger(value) || value < min || value > max))
      throw new AppvisorError('BAD_REQUEST', message, { field });
  }
}

/** An app store's index and the package must agree on the version and, when given, the build. */
function checkExpected(manifest: Manifest, expect: InstallOptions['expect']): void {
  if (!expect) return;
  if (manifest.version !== undefined && manifest.version !== expect.version) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `the package is version ${manifest.version}; the app store says ${expect.version}`,
    );
  }
  if (manifest.build !== undefined && manifest.build !== expect.build) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `the package is build ${manifest.build}; the app store says ${expect.build}`,
    );
  }
}

/** `list()` of specs/app-container.md. */
export interface AppSummary {
  id: string;
  version: string | null;
  autostart: boolean;
  runnable: boolean;
  state: AppState;
}

/** Sends messages to a running service process (the protocol of docs/service-protocol.md). */
export interface ServiceChannel {
  send(message: object): boolean;
  /** Sends a message with a socket; the socket is closed here once it is on its way. */
  sendSocket(message: object, socket: Socket): boolean;
}

/**
 * What hosts instances inside service processes (the instances subsystem). The app service
 * tells it when a service is ready, what it says, and when it is gone.
 */
export interface InstanceHost {
  serviceReady(app: string, channel: ServiceChannel): void;
  serviceMessage(app: string, message: Record<string, unknown>): void;
  serviceGone(app: string): void;
  /** Ids of the app's instances (their folders survive a purge; they block an uninstall). */
  instanceIds(app: string): Promise<string[]>;
  /** Deletes every instance of the app (uninstall --force). */
  removeAll(app: string): Promise<void>;
}

/** Options of {@link AppService}. */
export interface AppServiceOptions {
  store: Store;
  events: EventLog;
  /** Where alarms are raised and cleared. */
  alarms: AlarmRaiser;
  logger: Logger;
  nodeId: string;
  appsDir: string;
  appdataDir: string;
  logsDir: string;
  /** Run each app as its own system user (the manager is root). */
  isRoot: boolean;
  limits?: Partial<PackageLimits>;
  clock?: Clock;
  launcher?: Launcher;
  /** Environment every app gets besides its APPVISOR_* variables. */
  baseEnv?: Record<string, string>;
  /** Default stop grace time. */
  graceMs?: number;
  /** Largest package upload accepted. */
  maxPackageBytes?: number;
  /** `<data>/run`: services' HTTP sockets go below it. */
  runDir: string;
  /**
   * The bundled SDK (dist/sdk/appvisor-sdk.mjs). A copy goes to `<data>/run/sdk/`, where every
   * app user can read it, and services get its file URL as APPVISOR_SDK.
   */
  sdkBundle?: string;
  /** Node.js binary for `run` scripts (APPVISOR_NODE). */
  nodePath?: string;
  /** How long a service may take to send `ready`. */
  readyTimeoutMs?: number;
  /** What one service may send (config `services`). */
  serviceLimits?: ServiceLimits;
  /** Enforces each app's resource limits; none given: no limits are set. */
  sandbox?: Sandbox;
  /** Limits of an app that has none of its own. */
  resourceLimits?: ResourceLimits;
  /** Test-only pauses at named steps (config `testing.pauses`). */
  pause?: Pause;
}

interface LoadedApp {
  record: AppRecord;
  manifest: Manifest;
  supervisor: AppSupervisor;
  log: AppLog;
  /** Rate limits of what the service sends. */
  limiter: MessageLimiter;
  /** The running process while it has an IPC channel (services only). */
  channel?: ServiceChannel | undefined;
  /** Where the service said it serves HTTP, while it runs. */
  httpSocket: string | null;
  /** Passes an accepted socket to the service, when it said it takes handoffs. */
  handoff?: ((message: object, socket: Socket) => void) | undefined;
  readyTimer?: NodeJS.Timeout | undefined;
  /** The memory group's OOM kill count when the process was started. */
  oomKillsAtStart: number;
  memoryKills: number;
  /** The writes of the process's pid to the store, in the order of spawns and exits. */
  pidWrites: Promise<void>;
}

/**
 * Journal kind of a system user made for a new app: written before the user is made, ended
 * once the app's row names it (or the install is undone), so that the user of an install a
 * crash cut off is removed at the next start.
 */
const appUserKind = 'app-user';

/** Alarms the app service raises about an app (the subject is the app id). */
const appAlarmCodes = new Set([
  'crash-loop',
  'app-fatal',
  'app-memory-limit',
  'service-misbehaved',
]);

/**
 * The app an alarm is about, when it goes with the app: one the app service raises about it,
 * or one of the app's own (`app:<app>:<code>`, raised over the service protocol).
 */
function appOfAlarm(alarm: ActiveAlarm): string | undefined {
  if (appAlarmCodes.has(alarm.code)) return alarm.subject;
  const own = /^app:([^:]+):/.exec(alarm.code);
  return own?.[1];
}

const defaultEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  TZ: Intl.DateTimeFormat().resolvedOptions().timeZone,
};

/**
 * Installs, runs and supervises apps (specs/app-container.md): the one implementation that
 * the API, the CLI and the UI drive. Operations on one app are serialized; different apps
 * proceed in parallel.
 */
export class AppService implements Component {
  readonly name = 'apps';
  readonly #options: AppServiceOptions;
  readonly #catalog: Catalog;
  readonly #apps = new Map<string, LoadedApp>();
  readonly #queue = new KeyedQueue();
  readonly #journal: Journal;
  #sdkUrl: string | undefined;
  #host: InstanceHost | undefined;
  #updateHook: ((app: string) => Promise<void>) | undefined;
  readonly #stateListeners = new Set<(app: string) => void>();

  /** Connects the instances subsystem; services are reported to it from now on. */
  setInstanceHost(host: InstanceHost): void {
    this.#host = host;
  }

  /**
   * Runs before an installed app is replaced by another version (the backups subsystem backs
   * its instances up). If it throws, the install is refused and nothing changes.
   */
  setUpdateHook(hook: (app: string) => Promise<void>): void {
    this.#updateHook = hook;
  }

  /** Trace flags the app declares in app.json besides the platform's. */
  traceFlagsOf(id: string): string[] {
    return this.#apps.get(id)?.manifest.traceFlags ?? [];
  }

  /** Whether the app is installed and hosts instances (app.json `instances: true`). */
  hostsInstances(id: string): boolean | undefined {
    const app = this.#apps.get(id);
    return app ? app.manifest.instances === true : undefined;
  }

  /** The app's system user (root only), for folders it must own. */
  ownerOf(id: string): { uid: number; gid: number } | null {
    const user = this.#apps.get(id)?.record.unixUser;
    return (user ? this.#owners.get(user) : undefined) ?? null;
  }

  /** Writes a line to the app's log under `tag` (a service's trace lines, by instance). */
  writeLog(id: string, tag: string, text: string): void {
    this.#apps.get(id)?.log.write(tag, text);
  }

  /** Writes a note of the manager's own to the app's log (an `[appvisor]` line). */
  note(id: string, text: string): void {
    this.#apps.get(id)?.log.note(text);
  }

  /** Where the app's service serves HTTP, while it runs. */
  httpSocketOf(id: string): string | null {
    return this.#apps.get(id)?.httpSocket ?? null;
  }

  /** The app's `web.static` folder, served by the front, when app.json names one. */
  staticDirOf(id: string): string | undefined {
    const app = this.#apps.get(id);
    const folder = app?.manifest.web?.static;
    return app && folder ? join(this.#catalog.folder(id), folder) : undefined;
  }

  /** How to hand a socket to the app's service, when it takes handoffs. */
  handoffOf(id: string): ((message: object, socket: Socket) => void) | undefined {
    return this.#apps.get(id)?.handoff;
  }

  /** The app's writable folder. */
  dataFolder(id: string): string {
    return this.#catalog.dataFolder(id);
  }

  /** Where a service listens for HTTP (in <data>/run, short enough for a socket path). */
  #socketDir(id: string): string {
    return join(
      this.#options.runDir,
      'apps',
      createHash('sha256').update(id).digest('hex').slice(0, 16),
    );
  }

  /** The one socket the front connects to for this app's instances. */
  #httpSocketPath(id: string): string {
    return join(this.#socketDir(id), 'http.sock');
  }

  constructor(options: AppServiceOptions) {
    this.#options = options;
    this.#journal = new Journal(options.store, options.nodeId);
    this.#catalog = new Catalog({
      store: options.store,
      nodeId: options.nodeId,
      appsDir: options.appsDir,
      appdataDir: options.appdataDir,
      ...(options.limits ? { limits: options.limits } : {}),
    });
  }

  /**
   * Boot: repair interrupted installs, stop processes a previous manager left running, drop
   * apps whose folder is gone (with an event), start the runnable autostart ones.
   */
  async start(): Promise<void> {
    await this.#stageSdk();
    if (this.#options.sandbox?.enforcement.startsWith('cgroup')) {
      this.#memoryTimer = setInterval(() => {
        this.#checkMemoryKills();
      }, 2_000);
      this.#memoryTimer.unref();
    }
    for (const id of await this.#catalog.recover()) {
      this.#options.events.record({
        kind: 'app.recovered',
        severity: 'warning',
        subject: id,
        text: `an interrupted install of ${id} was rolled back`,
      });
    }
    const loaded: LoadedApp[] = [];
    for (const record of await this.#catalog.list()) {
      if (record.pid !== null) await this.#stopLeftover(record);
      await this.#stopStrays(record);
      if (!(await this.#catalog.hasFolder(record.id))) {
        await this.#catalog.remove(record.id);
        // Its user goes with it, as with an uninstall: nothing would ever remove it.
        if (record.unixUser) await this.#dropUser(record.unixUser).catch(() => undefined);
        this.#options.events.record({
          kind: 'app.missing',
          severity: 'warning',
          subject: record.id,
          text: `the folder of ${record.id} is gone: removed from the list`,
        });
        continue;
      }
      loaded.push(await this.#load(record));
    }
    await this.#dropCutOffUsers();
    // Before any start: a start must find the alarms it clears.
    this.#adoptAlarms();
    for (const app of loaded) {
      const { record } = app;
      if (record.autostart && (await this.#catalog.isRunnable(record.id))) {
        try {
          await this.#requireReachable(app);
        } catch (error) {
          this.#options.events.record({
            kind: 'app.start-failed',
            severity: 'error',
            subject: record.id,
            text: (error as Error).message,
          });
          continue;
        }
        app.log.note('starting (autostart)');
        app.supervisor.start();
      }
    }
  }

  /**
   * The alarms of the previous run that concern apps: those of apps no longer installed are
   * cleared; the supervisors take over the crash-loop and app-fatal alarms of the others, so
   * that a stable run or a start clears them as it would have before the restart.
   */
  #adoptAlarms(): void {
    const held = reconcileAlarms(this.#options.alarms, {
      owns: (alarm) => appOfAlarm(alarm) !== undefined,
      holds: (alarm) => this.#apps.has(appOfAlarm(alarm)!),
      why: (alarm) => `${appOfAlarm(alarm)!} is no longer installed`,
    });
    for (const alarm of held) {
      const supervisor = this.#apps.get(alarm.subject)?.supervisor;
      if (alarm.code === 'crash-loop') supervisor?.adopt({ crashLoop: true });
      if (alarm.code === 'app-fatal') supervisor?.adopt({ fatal: true });
    }
  }

  /** The folder of a service's HTTP socket: the app's user owns it, nobody else may enter. */
  async #prepareSocketDir(id: string, owner: { uid: number; gid: number } | null): Promise<void> {
    const dir = this.#socketDir(id);
    // run/apps must let every app user pass; each app's own folder is closed to the others.
    await mkdir(this.#options.runDir, { recursive: true, mode: 0o755 });
    await ensureFolder(join(this.#options.runDir, 'apps'), 0o711);
    // Its user may swap the folder's content, never its name (run/apps is root's); changed
    // through a descriptor all the same, so no link is ever followed (safe-fs).
    await ensureFolder(dir, 0o700, owner);
  }

  /**
   * Copies the SDK bundle where app users can read it: the manager's own folder may be private
   * (a checkout in /root, say).
   */
  async #stageSdk(): Promise<void> {
    const source = this.#options.sdkBundle;
    if (!source) return;
    const folder = join(this.#options.runDir, 'sdk');
    await mkdir(folder, { recursive: true, mode: 0o755 });
    await chmod(folder, 0o755);
    const target = join(folder, 'appvisor-sdk.mjs');
    try {
      await writeFileAtomic(target, await readFile(source), 0o644);
      this.#sdkUrl = pathToFileURL(target).href;
    } catch (error) {
      this.#options.logger.warn(
        { err: error },
        'the SDK bundle is missing: services cannot import APPVISOR_SDK',
      );
    }
  }

  /** A process of this app that a killed manager left behind: its whole group is stopped. */
  async #stopLeftover(record: AppRecord): Promise<void> {
    const pid = record.pid!;
    const argv = await commandLine(pid);
    const folder = this.#catalog.folder(record.id);
    if (isAlive(pid) && argv?.some((part) => part.startsWith(folder))) {
      this.#options.logger.warn(
        { app: record.id, pid },
        'stopping a process left by a previous manager',
      );
      signalGroup(pid, 'SIGTERM');
      if (!(await waitForExit(pid, this.#graceMs(undefined)))) signalGroup(pid, 'SIGKILL');
      await waitForExit(pid, 5_000);
    }
    // Strays of that group, if any, go too.
    try {
      signalGroup(pid, 'SIGKILL');
    } catch {
      // not ours to signal
    }
    // And anything of the app left in its control groups.
    this.#options.sandbox?.killAll(record.id);
    await this.#catalog.setPid(record.id, null);
  }

  /**
   * Stops processes of the app that its row does not name: a manager killed between a spawn
   * and the write of its pid leaves one running, which would run beside the new one. As root
   * they are the processes of the app's own user, which nothing else runs as; otherwise those
   * that run a file of the app's folder. Their process groups are stopped, TERM then KILL.
   */
  async #stopStrays(record: AppRecord): Promise<void> {
    const uid = record.unixUser ? (await lookupUser(record.unixUser))?.uid : undefined;
    if (record.unixUser && uid === undefined) return;
    const folder = `${this.#catalog.folder(record.id)}/`;
    const strays = await listProcesses((info) =>
      uid !== undefined ? info.uid === uid : info.argv.some((part) => part.startsWith(folder)),
    );
    if (strays.length === 0) return;
    this.#options.logger.warn(
      { app: record.id, pids: strays.map((info) => info.pid) },
      'stopping processes of the app that a previous manager left running',
    );
    const ownGroup = (await processInfo(process.pid))?.pgrp ?? -1;
    const signalAll = (name: NodeJS.Signals) => {
      for (const info of strays) {
        try {
          if (info.pgrp > 1 && info.pgrp !== ownGroup) signalGroup(info.pgrp, name);
          else process.kill(info.pid, name);
        } catch {
          // gone meanwhile
        }
      }
    };
    signalAll('SIGTERM');
    const deadline = Date.now() + this.#graceMs(undefined);
    for (const info of strays) await waitForExit(info.pid, Math.max(0, deadline - Date.now()));
    signalAll('SIGKILL');
  }

  /**
   * Removes the system users that installs cut off by a crash made and no app's row names
   * (see {@link appUserKind}).
   */
  async #dropCutOffUsers(): Promise<void> {
    for (const entry of await this.#journal.pending<{ user: string }>(appUserKind)) {
      const { user } = entry.data;
      if ((await this.#catalog.userOwner(user)) === undefined) {
        this.#options.logger.warn(
          { app: entry.subject, user },
          'removing the user of an app install that was cut off',
        );
        await removeSystemUser(user);
      }
      await this.#journal.end(appUserKind, entry.subject);
    }
  }

  #graceMs(manifest: Manifest | undefined): number {
    return (manifest?.stop?.graceSeconds ?? 0) * 1000 || (this.#options.graceMs ?? 5_000);
  }

  #policy(manifest: Manifest): RestartPolicy {
    return { ...defaultRestartPolicy, ...manifest.restart };
  }

  #logLimits(record: AppRecord, manifest: Manifest): LogLimits {
    return {
      maxBytes: record.logMaxBytes ?? manifest.log?.maxBytes ?? defaultLogLimits.maxBytes,
      files: record.logFiles ?? manifest.log?.files ?? defaultLogLimits.files,
    };
  }

  async #load(record: AppRecord): Promise<LoadedApp> {
    const existing = this.#apps.get(record.id);
    if (existing) {
      existing.record = record;
      existing.manifest = await this.#catalog.manifest(record.id).catch(() => ({}));
      await existing.log.reconfigure(this.#logLimits(record, existing.manifest));
      return existing;
    }
    if (record.unixUser && !this.#owners.has(record.unixUser)) {
      // Recorded for this app in the store: its own, made again if the system lost it.
      const user = await ensureSystemUser(record.unixUser);
      this.#owners.set(record.unixUser, { uid: user.uid, gid: user.gid });
    } else if (!record.unixUser && this.#options.isRoot) {
      // Installed while the manager was not root, or it shared a user with another app (store
      // migration 6): never run it as root or as that other app.
      const user = await this.#newUser(record.id);
      await this.#catalog.setUnixUser(record.id, user.name);
      await this.#giveDataFolder(record.id, user);
      record.unixUser = user.name;
    }
    const manifest: Manifest = await this.#catalog.manifest(record.id).catch(() => ({}));
    if (manifest.instances) {
      const owner = record.unixUser ? (this.#owners.get(record.unixUser) ?? null) : null;
      await this.#prepareSocketDir(record.id, owner);
    }
    const log = new AppLog(
      join(this.#options.logsDir, `${record.id}.log`),
      this.#logLimits(record, manifest),
    );
    const id = record.id;
    const app: LoadedApp = {
      record,
      manifest,
      log,
      limiter: new MessageLimiter({
        limits: this.#serviceLimits,
        report: (dropped, windowMs) => {
          this.#reportDrops(app, dropped, windowMs);
        },
        flooding: (dropped) => {
          this.#misbehaved(app, `sent ${dropped} messages over its limits within 10 s`);
        },
      }),
      httpSocket: null,
      oomKillsAtStart: 0,
      memoryKills: 0,
      pidWrites: Promise.resolve(),
      supervisor: new AppSupervisor({
        id,
        spec: () => this.#limited(app, this.#spec(app)),
        policy: () => this.#policy(app.manifest),
        graceMs: () => this.#graceMs(app.manifest),
        clock: this.#options.clock ?? systemClock,
        launcher: this.#options.launcher ?? processLauncher,
        readiness: () => (app.manifest.instances ? 'message' : 'spawn'),
        attach: (process) => {
          log.attach(process.stdout, 'out');
          log.attach(process.stderr, 'err');
          if (process.send && process.onMessage) {
            const send = process.send.bind(process);
            const channel: ServiceChannel = {
              send: (message) => send(message),
              // Once the descriptor has left, this process's socket is closed for good (its
              // handle is closed by Node already; destroy() also tells its listeners).
              sendSocket: (message, socket) =>
                send(message, socket, () => {
                  socket.destroy();
                }),
            };
            app.channel = channel;
            process.onMessage((message) => {
              // Thrown out of the channel's 'message' event, an error would reach the process.
              try {
                this.#onServiceMessage(app, channel, message);
              } catch (error) {
                this.#options.logger.error(
                  { err: error, app: id },
                  'a message of the service could not be handled',
                );
              }
            });
            process.onViolation?.((_reason, detail) => {
              this.#misbehaved(app, `sent ${detail}`, false);
            });
          }
        },
        notify: (notice) => {
          this.#onNotice(app, notice);
        },
      }),
    };
    this.#apps.set(id, app);
    return app;
  }

  #spec(app: LoadedApp) {
    const { id } = app.record;
    const home = this.#catalog.dataFolder(id);
    const owner = app.record.unixUser ? this.#owners.get(app.record.unixUser) : undefined;
    return {
      command: join(this.#catalog.folder(id), 'run'),
      args: [],
      cwd: home,
      env: {
        ...defaultEnv,
        ...this.#options.baseEnv,
        HOME: home,
        APPVISOR_APP_ID: id,
        APPVISOR_APP_DIR: this.#catalog.folder(id),
        APPVISOR_DATA_DIR: home,
        ...(app.manifest.instances
          ? {
              APPVISOR_HTTP_SOCKET: this.#httpSocketPath(id),
              ...(this.#sdkUrl ? { APPVISOR_SDK: this.#sdkUrl } : {}),
            }
          : {}),
        ...(this.#options.nodePath ? { APPVISOR_NODE: this.#options.nodePath } : {}),
      },
      ipc: app.manifest.instances === true,
      maxMessageBytes: this.#serviceLimits.maxMessageBytes,
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    };
  }

  /** The app's limits: its own where it has them, else the configured defaults. */
  #limitsOf(record: AppRecord): ResourceLimits {
    const defaults = this.#options.resourceLimits ?? defaultResourceLimits;
    return {
      memoryMaxBytes: record.memoryMaxBytes ?? defaults.memoryMaxBytes,
      cpuWeight: record.cpuWeight ?? defaults.cpuWeight,
      pidsMax: record.pidsMax ?? defaults.pidsMax,
    };
  }

  /** The spec inside the app's limits (it joins its control groups before `run` executes). */
  #limited(app: LoadedApp, spec: ProcessSpec): ProcessSpec {
    const { sandbox } = this.#options;
    if (!sandbox) return spec;
    const wrapped = sandbox.wrap(app.record.id, spec, this.#limitsOf(app.record));
    app.oomKillsAtStart = sandbox.oomKills(app.record.id);
    return wrapped;
  }

  /**
   * After the app's process ended: kills what is left in its control groups (a process that
   * left the process group), and tells whether the kernel killed one of them for the memory
   * cap; then the app is restarted by its policy, with the app-memory-limit alarm.
   */
  #afterExit(app: LoadedApp): void {
    const { sandbox } = this.#options;
    if (!sandbox) return;
    const { id } = app.record;
    sandbox.killAll(id);
    const kills = sandbox.oomKills(id) - app.oomKillsAtStart;
    if (kills <= 0) return;
    app.oomKillsAtStart += kills;
    app.memoryKills += kills;
    const cap = this.#limitsOf(app.record).memoryMaxBytes;
    const text = `${id} went over its memory cap of ${cap} bytes: the kernel killed it (${app.memoryKills} times since the manager started)`;
    app.log.note(`over the memory cap of ${cap} bytes: killed by the kernel`);
    this.#options.events.record({
      kind: 'app.memory-limit',
      severity: 'error',
      subject: id,
      text,
    });
    this.#options.alarms.raise('app-memory-limit', 'error', text, id);
  }

  /**
   * The kernel may kill a child of the app for the memory cap while the app's first process
   * lives on (cgroup v1 kills one process, not the group): the whole app is killed then, so
   * that it restarts as a whole and {@link #afterExit} raises the alarm.
   */
  #checkMemoryKills(): void {
    const { sandbox } = this.#options;
    if (!sandbox) return;
    for (const app of this.#apps.values()) {
      const pid = app.supervisor.pid;
      const { state } = app.supervisor;
      if (pid === null || (state !== 'running' && state !== 'starting')) continue;
      if (sandbox.oomKills(app.record.id) > app.oomKillsAtStart) {
        app.log.note('a process went over the memory cap: killing the app to restart it');
        signalGroup(pid, 'SIGKILL');
      }
    }
  }

  #memoryTimer: NodeJS.Timeout | undefined;

  /** The admin acted on the app (start, restart, configure, uninstall): the alarm is over. */
  #clearMemoryAlarm(id: string, text: string): void {
    this.#options.alarms.clear('app-memory-limit', text, id);
  }

  /** uid/gid of the apps' system users, looked up when the app is installed or loaded. */
  readonly #owners = new Map<string, { uid: number; gid: number }>();
  /** Serializes the choice of new users' names, so two installs never pick the same one. */
  readonly #userChoice = new KeyedQueue();

  /**
   * Makes a system user for an app: the first of its candidate names that no app of this node
   * has in the store and that does not exist on the system. An existing account is never
   * taken over, even with the very name the app would get: something else made it (and an app
   * could choose its id to get that name). When every predictable name exists, a random one
   * is taken; APP_USER_UNAVAILABLE only when those are taken too (user creation fails).
   */
  async #newUser(id: string): Promise<SystemUser> {
    return this.#userChoice.run('', async () => {
      const random = Array.from({ length: 10 }, () => randomUnixUserName(id));
      for (const name of [...unixUserCandidates(id), ...random]) {
        if ((await this.#catalog.userOwner(name)) !== undefined) continue;
        if (await lookupUser(name)) continue;
        await this.#journal.begin(appUserKind, id, 'creating', { user: name });
        const user = await createSystemUser(name);
        if (!user) {
          // Made meanwhile by something else: not ours to remove after a crash.
          await this.#journal.end(appUserKind, id);
          continue;
        }
        await (this.#options.pause ?? noPause)('app.user');
        this.#owners.set(name, { uid: user.uid, gid: user.gid });
        this.#options.logger.info({ app: id, user: name, uid: user.uid }, 'made the app user');
        return user;
      }
      throw new AppvisorError(
        'APP_USER_UNAVAILABLE',
        `no free system user name for ${id}: every name it could get is taken`,
      );
    });
  }

  /**
   * Gives an existing data folder, all of it, to the app's new user (links not followed): the
   * files an earlier user of the app made stay the app's.
   */
  async #giveDataFolder(id: string, user: SystemUser): Promise<void> {
    const folder = this.#catalog.dataFolder(id);
    const info = await lstat(folder).catch(() => undefined);
    if (info?.isDirectory()) await chownTree(folder, user.uid, user.gid);
  }

  /** Removes an app's user unless another app of this node has it (which the store forbids). */
  async #dropUser(name: string): Promise<void> {
    if ((await this.#catalog.userOwner(name)) !== undefined) return;
    this.#owners.delete(name);
    await removeSystemUser(name);
  }

  get #serviceLimits(): ServiceLimits {
    return this.#options.serviceLimits ?? defaultServiceLimits;
  }

  /** Tells of the messages a service's limits dropped: one note and one event per window. */
  #reportDrops(app: LoadedApp, dropped: Record<MessageKind, number>, windowMs: number): void {
    const { id } = app.record;
    const total = Object.values(dropped).reduce((sum, count) => sum + count, 0);
    const parts = Object.entries(dropped)
      .filter(([, count]) => count > 0)
      .map(([kind, count]) => `${count} ${kind}`)
      .join(', ');
    const text = `${total} messages from ${id} dropped within ${windowMs / 1000} s, over the limits of config services (${parts})`;
    app.log.note(text);
    this.#options.events.record({
      kind: 'app.messages-dropped',
      severity: 'warning',
      subject: id,
      text,
    });
  }

  /**
   * A service broke the protocol or its limits on purpose or by a bug: it is ended at once
   * (SIGKILL to its group; the supervisor restarts it with its back-off) and the
   * `service-misbehaved` alarm is raised until the admin starts, stops or restarts the app.
   */
  #misbehaved(app: LoadedApp, why: string, kill = true): void {
    const { id } = app.record;
    const text = `${id} ${why}: the manager ended it`;
    app.log.note(text);
    this.#options.events.record({ kind: 'app.misbehaved', severity: 'error', subject: id, text });
    this.#options.alarms.raise('service-misbehaved', 'error', text, id);
    const pid = app.supervisor.pid;
    if (kill && pid !== null) {
      try {
        signalGroup(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  #onServiceMessage(app: LoadedApp, channel: ServiceChannel, message: unknown): void {
    if (typeof message !== 'object' || message === null || app.channel !== channel) return;
    const body = message as Record<string, unknown>;
    // Every message, `ready` included, passes the app's rate limits first.
    if (!app.limiter.admit(body.type)) return;
    if (body.type === 'ready') {
      clearTimeout(app.readyTimer);
      // The front connects only to the socket assigned in APPVISOR_HTTP_SOCKET, in the app's
      // own folder: a path the service names could be the admin socket or another app's.
      const assigned = this.#httpSocketPath(app.record.id);
      const named = body.httpSocket;
      if (typeof named === 'string' && named !== assigned) {
        app.log.note(
          `the service named another HTTP socket; the front connects only to ${assigned} (APPVISOR_HTTP_SOCKET)`,
        );
      }
      app.httpSocket = typeof named === 'string' ? assigned : null;
      app.handoff =
        body.handoff === true
          ? (message, socket) => {
              if (!channel.sendSocket(message, socket) && app.channel !== channel) socket.destroy();
            }
          : undefined;
      app.log.note(`service ready${app.httpSocket ? `, HTTP on ${app.httpSocket}` : ''}`);
      app.supervisor.ready();
      this.#host?.serviceReady(app.record.id, channel);
      return;
    }
    this.#host?.serviceMessage(app.record.id, body);
  }

  /** A service that never says `ready` is killed, which counts as a failed start. */
  #armReadyTimeout(app: LoadedApp): void {
    if (!app.manifest.instances) return;
    clearTimeout(app.readyTimer);
    const pid = app.supervisor.pid;
    app.readyTimer = setTimeout(() => {
      if (app.supervisor.state !== 'starting' || app.supervisor.pid !== pid || pid === null) return;
      app.log.note('the service did not say ready in time: killing it');
      this.#options.events.record({
        kind: 'app.ready-timeout',
        severity: 'error',
        subject: app.record.id,
        text: `${app.record.id} did not become ready in time`,
      });
      signalGroup(pid, 'SIGKILL');
    }, this.#options.readyTimeoutMs ?? 30_000);
    app.readyTimer.unref();
  }

  /**
   * Records the running process's pid (null: none), in the order of the notices: the start
   * looks for what a killed manager left by it. `pause` is a test-only pause before the write.
   */
  #writePid(app: LoadedApp, pid: number | null, pause?: string): void {
    const { id } = app.record;
    app.pidWrites = app.pidWrites
      .then(async () => {
        if (pause) await (this.#options.pause ?? noPause)(pause);
        await this.#catalog.setPid(id, pid);
      })
      .catch(() => undefined);
  }

  /** Calls `listener` with the app's id at each notice of its supervisor (state, start, end). */
  onStateChange(listener: (app: string) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #onNotice(app: LoadedApp, notice: SupervisorNotice): void {
    const { id } = app.record;
    for (const listener of this.#stateListeners) listener(id);
    const { events } = this.#options;
    switch (notice.type) {
      case 'spawned':
        app.log.note(`started, pid ${notice.pid}`);
        this.#armReadyTimeout(app);
        this.#writePid(app, notice.pid, 'app.spawned');
        break;
      case 'exited': {
        const { kind, code, signal } = notice.exit;
        app.log.note(
          `ended (${kind}${code !== null ? `, code ${code}` : ''}${signal ? `, ${signal}` : ''})${notice.error ? `: ${notice.error}` : ''}`,
        );
        this.#writePid(app, null);
        this.#afterExit(app);
        clearTimeout(app.readyTimer);
        if (app.channel) {
          app.channel = undefined;
          app.httpSocket = null;
          app.handoff = undefined;
          this.#host?.serviceGone(id);
        }
        if (kind === 'error' || kind === 'signal') {
          events.record({
            kind: 'app.crashed',
            severity: 'warning',
            subject: id,
            text: `${id} ended unexpectedly (${kind}${code !== null ? ` ${code}` : ''}${signal ? ` ${signal}` : ''})`,
          });
        }
        break;
      }
      case 'crash-loop':
        if (notice.raised)
          this.#options.alarms.raise(
            'crash-loop',
            'error',
            `${id} failed ${notice.failures} times within 10 minutes`,
            id,
          );
        else this.#options.alarms.clear('crash-loop', `${id} runs stably again`, id);
        break;
      case 'fatal':
        if (notice.raised)
          this.#options.alarms.raise(
            'app-fatal',
            'critical',
            `${id} gave up after ${notice.failures} failures`,
            id,
          );
        else this.#options.alarms.clear('app-fatal', `${id} was started or stopped again`, id);
        break;
      case 'state':
        if (notice.state === 'backoff') {
          const next = app.supervisor.status().nextRestartAt;
          app.log.note(`restarting at ${next ?? 'once'}`);
        }
        break;
    }
  }

  #get(id: string): LoadedApp {
    const app = this.#apps.get(id);
    if (!app) throw new AppvisorError('APP_NOT_FOUND', `no app "${id}" is installed`);
    return app;
  }

  async #statusOf(app: LoadedApp): Promise<AppStatus> {
    const supervised = app.supervisor.status();
    return {
      id: app.record.id,
      version: app.manifest.version ?? null,
      build: app.manifest.build ?? null,
      title: app.manifest.title ?? null,
      runnable: await this.#catalog.isRunnable(app.record.id),
      autostart: app.record.autostart,
      instances: app.manifest.instances === true,
      httpSocket: app.httpSocket,
      ...supervised,
      log: this.#logLimits(app.record, app.manifest),
      limits: {
        ...this.#limitsOf(app.record),
        enforcement: this.#options.sandbox?.enforcement ?? 'none',
        memoryKills: app.memoryKills,
      },
    };
  }

  /**
   * Every installed app's process as the supervisor sees it now, sorted by id: what the monitor
   * samples (synchronous, unlike {@link list}, which asks the catalog).
   */
  processes(): { id: string; state: AppState; pid: number | null; restarts: number }[] {
    return [...this.#apps.values()]
      .sort((a, b) => a.record.id.localeCompare(b.record.id))
      .map((app) => ({
        id: app.record.id,
        state: app.supervisor.state,
        pid: app.supervisor.pid,
        restarts: app.supervisor.status().restarts,
      }));
  }

  async status(id: string): Promise<AppStatus> {
    checkAppId(id);
    return this.#statusOf(this.#get(id));
  }

  async list(): Promise<AppSummary[]> {
    const apps = [...this.#apps.values()].sort((a, b) => a.record.id.localeCompare(b.record.id));
    return Promise.all(
      apps.map(async (app) => ({
        id: app.record.id,
        version: app.manifest.version ?? null,
        autostart: app.record.autostart,
        runnable: await this.#catalog.isRunnable(app.record.id),
        state: app.supervisor.state,
      })),
    );
  }

  async #requireRunnable(id: string): Promise<void> {
    if (!(await this.#catalog.isRunnable(id))) {
      throw new AppvisorError('NOT_RUNNABLE', `${id} has no run file`);
    }
  }

  /**
   * As root, apps run as their own users, who must be able to enter the data folder. Checked
   * before a start so that the admin reads the cause, not a spawn EACCES in the log.
   */
  async #requireReachable(app: LoadedApp): Promise<void> {
    const owner = app.record.unixUser ? this.#owners.get(app.record.unixUser) : undefined;
    if (!owner || !app.record.unixUser) return;
    const blocked = await blockingFolder(join(this.#catalog.folder(app.record.id), 'run'), {
      name: app.record.unixUser,
      uid: owner.uid,
      gid: owner.gid,
      home: '/',
    });
    if (blocked) {
      throw new AppvisorError(
        'DATA_DIR_UNUSABLE',
        `apps run as their own users, who cannot enter ${blocked.dir} (mode ${blocked.mode.toString(8)}); allow others to pass (chmod o+x ${blocked.dir}) or move the data folder`,
      );
    }
  }

  /** Starts an app; `changed` is false when it was already running or starting. */
  async startApp(id: string): Promise<{ changed: boolean; status: AppStatus }> {
    checkAppId(id);
    return this.#queue.run(id, async () => {
      const app = this.#get(id);
      await this.#requireRunnable(id);
      await this.#requireReachable(app);
      const changed = app.supervisor.start();
      if (changed) app.log.note('start requested');
      this.#clearMisbehaved(id, 'started');
      if (changed) this.#clearMemoryAlarm(id, `${id} was started again`);
      return { changed, status: await this.#statusOf(app) };
    });
  }

  #clearMisbehaved(id: string, how: string): void {
    this.#options.alarms.clear('service-misbehaved', `${id} was ${how} by the admin`, id);
  }

  /** Asks a service to end cleanly before the SIGTERM that follows. */
  #stopProcess(app: LoadedApp): Promise<{ changed: boolean }> {
    try {
      app.channel?.send({ type: 'shutdown' });
    } catch {
      // the channel is closing already
    }
    return app.supervisor.stop();
  }

  /** Stops an app (TERM, then KILL after the grace time); resolves when it has ended. */
  async stopApp(id: string): Promise<{ changed: boolean; status: AppStatus }> {
    checkAppId(id);
    return this.#queue.run(id, async () => {
      const app = this.#get(id);
      await this.#requireRunnable(id);
      if (app.supervisor.state !== 'stopped') app.log.note('stop requested');
      const { changed } = await this.#stopProcess(app);
      this.#clearMisbehaved(id, 'stopped');
      return { changed, status: await this.#statusOf(app) };
    });
  }

  async restartApp(id: string): Promise<{ changed: boolean; status: AppStatus }> {
    checkAppId(id);
    return this.#queue.run(id, async () => {
      const app = this.#get(id);
      await this.#requireRunnable(id);
      await this.#requireReachable(app);
      app.log.note('restart requested');
      await this.#stopProcess(app);
      app.supervisor.start();
      this.#clearMisbehaved(id, 'restarted');
      this.#clearMemoryAlarm(id, `${id} was restarted`);
      return { changed: true, status: await this.#statusOf(app) };
    });
  }

  /**
   * Stores settings at once; never starts or stops the app. New resource limits are written
   * to the app's control groups at once (a memory cap below what it uses now makes the kernel
   * reclaim or kill) and apply in full from its next start.
   */
  async configure(id: string, change: AppSettingsChange): Promise<AppStatus> {
    checkAppId(id);
    return this.#queue.run(id, async () => {
      const app = this.#get(id);
      await this.#requireRunnable(id);
      if (change.logMaxBytes != null && change.logMaxBytes < 64 * 1024) {
        throw new AppvisorError('BAD_REQUEST', 'the log size must be at least 65536 bytes', {
          field: 'logMaxBytes',
        });
      }
      if (change.logFiles != null && (change.logFiles < 1 || change.logFiles > 100)) {
        throw new AppvisorError('BAD_REQUEST', 'the number of log files must be 1 to 100', {
          field: 'logFiles',
        });
      }
      checkLimits(change);
      await this.#catalog.update(id, change);
      const record = await this.#catalog.get(id);
      if (record) await this.#load(record);
      if (
        change.memoryMaxBytes !== undefined ||
        change.cpuWeight !== undefined ||
        change.pidsMax !== undefined
      ) {
        this.#clearMemoryAlarm(id, `${id}'s limits were changed`);
        if (app.supervisor.state !== 'stopped') {
          try {
            this.#options.sandbox?.apply(id, this.#limitsOf(app.record));
          } catch (error) {
            app.log.note(`the new limits apply from the next start: ${(error as Error).message}`);
          }
        }
      }
      return this.#statusOf(app);
    });
  }

  /**
   * Installs (or re-installs) an app from an archive: validated and unpacked beside the
   * installed copy, then swapped in while the app is stopped; a re-install keeps autostart
   * unless it is given; afterwards the app runs if autostart is on or it ran before. On any failure the
   * previous version is installed and, if it ran, running again.
   */
  async install(archivePath: string, options: InstallOptions = {}): Promise<AppStatus> {
    try {
      return await this.#install(archivePath, options);
    } catch (error) {
      // Also a store that is down because its disk is full: the admin must free space.
      throw await diskFullCause(error, 'installing an app', this.#options.appsDir);
    }
  }

  async #install(archivePath: string, options: InstallOptions): Promise<AppStatus> {
    if (options.id !== undefined) checkAppId(options.id);
    const staged = await this.#catalog.stage(archivePath, options.id);
    try {
      checkExpected(staged.manifest, options.expect);
    } catch (error) {
      await this.#catalog.discard(staged);
      throw error;
    }
    return this.#queue.run(staged.id, async () => {
      const { id } = staged;
      const before = await this.#catalog.get(id);
      const loaded = this.#apps.get(id);
      const wasRunning =
        loaded !== undefined &&
        loaded.supervisor.state !== 'stopped' &&
        loaded.supervisor.state !== 'fatal';
      if (before && !options.skipUpdateHook) {
        try {
          await this.#updateHook?.(id);
        } catch (error) {
          await this.#catalog.discard(staged);
          throw error;
        }
      }
      // A re-install keeps the app's user; a new app gets one nobody else has.
      let unixUser = this.#options.isRoot ? (before?.unixUser ?? null) : null;
      let madeUser: SystemUser | null = null;
      let previous: string | null = null;
      let swapped = false;
      try {
        let owner: SystemUser | null = null;
        if (unixUser) {
          owner = await ensureSystemUser(unixUser);
          this.#owners.set(unixUser, { uid: owner.uid, gid: owner.gid });
        } else if (this.#options.isRoot) {
          owner = madeUser = await this.#newUser(id);
          unixUser = owner.name;
          await this.#giveDataFolder(id, owner);
        }
        if (loaded && wasRunning) {
          loaded.log.note('stopping for a new version');
          await this.#stopProcess(loaded);
        }
        // The row first: a crash before the swap leaves a row whose folder is the old one
        // (or none, which boot removes), never a folder without a row.
        await this.#catalog.save({
          id,
          autostart: options.autostart ?? before?.autostart ?? false,
          logMaxBytes: before?.logMaxBytes ?? null,
          logFiles: before?.logFiles ?? null,
          unixUser,
        });
        if (madeUser) await this.#journal.end(appUserKind, id);
        previous = await this.#catalog.swapIn(staged);
        swapped = true;
        const keep = new Set((await this.#host?.instanceIds(id)) ?? []);
        await this.#catalog.prepareDataFolder(
          id,
          owner ? { uid: owner.uid, gid: owner.gid } : null,
          options.purge ?? false,
          keep,
        );
        await this.#prepareSocketDir(id, owner);
      } catch (error) {
        if (swapped) await this.#catalog.restorePrevious(id, previous).catch(() => undefined);
        else await this.#catalog.discard(staged);
        if (before) await this.#catalog.save(before).catch(() => undefined);
        else await this.#catalog.remove(id).catch(() => undefined);
        if (madeUser) await this.#dropUser(madeUser.name).catch(() => undefined);
        await this.#journal.end(appUserKind, id).catch(() => undefined);
        if (loaded && wasRunning) loaded.supervisor.start();
        throw diskFullError(error, `installing ${id}`);
      }
      await this.#catalog.dropPrevious(previous);
      const record = await this.#catalog.get(id);
      const app = await this.#load(record!);
      app.log.note(
        `installed version ${app.manifest.version ?? '(none)'}${options.purge ? ', data purged' : ''}`,
      );
      this.#options.events.record({
        kind: 'app.installed',
        severity: 'info',
        subject: id,
        text: `${id} ${app.manifest.version ?? ''} installed`.replace('  ', ' '),
      });
      // Autostart on asks for a running app; a re-install also brings back an app that ran.
      const start = app.record.autostart || (before !== undefined && wasRunning);
      if (start && (await this.#catalog.isRunnable(id))) app.supervisor.start();
      return this.#statusOf(app);
    });
  }

  /**
   * Installs from a stream (an upload): written to a temporary file beside the apps, at most
   * `maxBytes`, then installed as {@link install} does; the temporary file is always removed.
   */
  async installStream(source: Readable, options: InstallOptions): Promise<AppStatus> {
    if (options.id !== undefined) checkAppId(options.id);
    const temp = join(this.#options.appsDir, `.incoming-${randomBytes(6).toString('hex')}`);
    const maxBytes = this.#options.maxPackageBytes ?? 1024 * 1024 * 1024;
    let received = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (received > maxBytes) {
          callback(
            new AppvisorError('PACKAGE_INVALID', `the package is larger than ${maxBytes} bytes`),
          );
          return;
        }
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, limiter, createWriteStream(temp, { mode: 0o600 }));
      if (received === 0) throw new AppvisorError('PACKAGE_INVALID', 'the package is empty');
      return await this.install(temp, options);
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Writes the installed folder of an app as a tar archive to `target` (a package that
   * {@link install} takes back): what an update keeps to roll back to.
   */
  async archiveInstalled(id: string, target: string): Promise<void> {
    checkAppId(id);
    this.#get(id);
    await this.#queue.run(id, async () => {
      await this.#catalog.archive(id, target);
    });
  }

  /**
   * Stops the app, removes its folders, its log files, its user and its row. An app with
   * instances is refused (APP_HAS_INSTANCES) unless `force`, which deletes them first.
   */
  async uninstall(id: string, options: { force?: boolean } = {}): Promise<void> {
    checkAppId(id);
    this.#get(id);
    const instances = (await this.#host?.instanceIds(id)) ?? [];
    if (instances.length > 0) {
      if (!options.force) {
        throw new AppvisorError(
          'APP_HAS_INSTANCES',
          `${id} has ${instances.length} instance(s): ${instances.slice(0, 5).join(', ')}; delete them or use --force`,
        );
      }
      await this.#host?.removeAll(id);
    }
    await this.#queue.run(id, async () => {
      const app = this.#get(id);
      await this.#stopProcess(app);
      this.#options.sandbox?.remove(id);
      // Its alarms, its own ones included, go with it: nothing would ever clear them.
      for (const alarm of this.#options.alarms.active()) {
        if (appOfAlarm(alarm) === id) {
          this.#options.alarms.clear(alarm.code, `${id} was uninstalled`, alarm.subject);
        }
      }
      this.#apps.delete(id);
      await this.#catalog.remove(id);
      await this.#catalog.removeFolders(id);
      await removeTree(this.#socketDir(id));
      await app.log.remove();
      if (app.record.unixUser) {
        await this.#dropUser(app.record.unixUser).catch((error: unknown) => {
          this.#options.logger.warn({ err: error, app: id }, 'cannot remove the app user');
        });
      }
      this.#options.events.record({
        kind: 'app.uninstalled',
        severity: 'info',
        subject: id,
        text: `${id} uninstalled`,
      });
    });
  }

  /** The app's log: the last `lines`, and, when `follow` is given, every new line. */
  async logs(
    id: string,
    lines: number,
  ): Promise<{ lines: string[]; follow: (listener: (line: string) => void) => () => void }> {
    checkAppId(id);
    const app = this.#get(id);
    return { lines: await app.log.tail(lines), follow: (listener) => app.log.follow(listener) };
  }

  /** Stops every app in parallel (TERM, then KILL after each one's grace time). */
  readonly close = once(async () => {
    clearInterval(this.#memoryTimer);
    await Promise.all(
      [...this.#apps.values()].map(async (app) => {
        // A gave-up app has no process; a stop would clear its alarm, which a shutdown must not.
        if (app.supervisor.state !== 'fatal') await this.#stopProcess(app);
        await app.log.close();
      }),
    );
    this.#options.sandbox?.close();
  });

  destroy(): void {
    clearInterval(this.#memoryTimer);
    for (const app of this.#apps.values()) app.supervisor.destroy();
  }
}
