import type { Readable } from 'node:stream';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { reconcileAlarms, type AlarmRaiser } from '../alarms/index.js';
import type { AppService, AppStatus } from '../apps/index.js';
import type { BackupService } from '../backup/index.js';
import { checkAppId } from '../catalog/index.js';
import type { EventLog } from '../events/index.js';
import type { InstanceService } from '../instances/index.js';
import type { Store } from '../store/index.js';
import { UpdateChecker } from './check.js';
import type { FetchLimits } from './download.js';
import { StoreInstaller, type StoreInstallOptions } from './install.js';
import { StoreRecords } from './journal.js';
import { problemOf, StoreOperations } from './operations.js';
import { StoreReader } from './read.js';
import { readinessOf } from './ready.js';
import { UpdateResumer } from './resume.js';
import { StoreSources } from './sources.js';
import type {
  InstalledView,
  StoreAppView,
  StoreListing,
  StoreOperation,
  StoreProblem,
  StoreResult,
  UpdateCheck,
} from './types.js';
import { StoreUpdater, type FileInstallOptions, type StoreUpdateOptions } from './update.js';

/** What the app store uses of the apps subsystem. */
export type StoreApps = Pick<
  AppService,
  | 'list'
  | 'status'
  | 'install'
  | 'archiveInstalled'
  | 'startApp'
  | 'on'
  | 'stage'
  | 'discardStaged'
  | 'receivePackage'
>;

/** Options of {@link AppStoreService}. */
export interface AppStoreServiceOptions {
  store: Store;
  apps: StoreApps;
  /** Only to wait for an updated app's instances to be ready. */
  instances: Pick<InstanceService, 'list' | 'onStateChange'>;
  backups: Pick<BackupService, 'backupApp' | 'restore'>;
  alarms: AlarmRaiser;
  events: Pick<EventLog, 'record'>;
  logger: Logger;
  nodeId: string;
  /** Where downloads and rollback packages are kept while an operation runs (`<data>/apps`). */
  workDir: string;
  fetch: FetchLimits;
  maxIndexBytes: number;
  maxPackageBytes: number;
  /** How long an updated app may take until it and every enabled instance are ready. */
  updateTimeoutMs: number;
  /** Period of the update check; 0: never (only on demand). */
  checkPeriodMs: number;
}

/** The result of {@link AppStoreService.updateAll}: one entry an app with an update. */
export interface UpdateAllResult {
  results: { app: string; ok: boolean; result?: StoreResult; error?: StoreProblem }[];
}

/**
 * Installs and updates apps from app stores (docs/app-store.md): static `apps.json` indexes
 * with Ed25519 signatures, packages verified by sha256 while they download, updates that back
 * the instances up first and roll back — files, databases and instance folders — when the new
 * version does not get every instance ready in time. A facade over its jobs: reading the
 * stores (read.ts), the update check (check.ts), installs (install.ts), updates (update.ts),
 * updates resumed at the start (resume.ts), the operations' phases (operations.ts).
 */
export class AppStoreService implements Component {
  readonly name = 'appstore';
  readonly sources: StoreSources;
  readonly #options: AppStoreServiceOptions;
  readonly #operations = new StoreOperations();
  readonly #reader: StoreReader;
  readonly #checker: UpdateChecker;
  readonly #installer: StoreInstaller;
  readonly #updater: StoreUpdater;
  readonly #resumer: UpdateResumer;

  constructor(options: AppStoreServiceOptions) {
    this.#options = options;
    const { store, apps, nodeId, logger, workDir } = options;
    this.sources = new StoreSources(store, () => {
      this.#checker.sourcesChanged();
    });
    const queue = new KeyedQueue();
    const operations = this.#operations;
    const records = new StoreRecords({ store, nodeId, workDir });
    const reader = new StoreReader({ ...options, sources: this.sources });
    const checker = new UpdateChecker({ reader, logger, checkPeriodMs: options.checkPeriodMs });
    const download = { workDir, fetch: options.fetch, maxPackageBytes: options.maxPackageBytes };
    const recorded = (app: string) => {
      checker.installed(app);
    };
    this.#installer = new StoreInstaller({
      ...options,
      reader,
      operations,
      queue,
      download,
      record: async (resolved) => {
        await records.record(reader.recordOf(resolved));
        recorded(resolved.app.id);
      },
    });
    const readiness = readinessOf(apps, options.instances);
    const updater = new StoreUpdater({
      ...options,
      reader,
      records,
      operations,
      queue,
      download,
      readiness,
      recorded,
    });
    this.#resumer = new UpdateResumer({ ...options, records, updater, operations, queue });
    this.#reader = reader;
    this.#checker = checker;
    this.#updater = updater;
  }

  async start(): Promise<void> {
    await this.#resumer.start();
    // The alarm of an app uninstalled since its update failed would never be cleared.
    const installed = new Set((await this.#options.apps.list()).map((app) => app.id));
    reconcileAlarms(this.#options.alarms, {
      owns: (alarm) => alarm.code === 'update-failed',
      holds: (alarm) => installed.has(alarm.subject),
      why: (alarm) => `${alarm.subject} is no longer installed`,
    });
    this.#checker.start();
  }

  /**
   * The apps of every configured store, with what is installed of each. As it reads every
   * store, it is an update check too: `appvisor status` says what it found.
   */
  list(): Promise<StoreListing> {
    return this.#checker.list();
  }

  /** One app as the stores offer it; APPSTORE_APP_NOT_FOUND when none lists it. */
  show(id: string): Promise<StoreAppView> {
    return this.#checker.show(id);
  }

  /** Installs, or updates, or recent ones (finished less than 10 minutes ago). */
  operations(): StoreOperation[] {
    return this.#operations.list();
  }

  /**
   * Installs an app from the stores (the newest build, or `version`: a version or a build
   * number). An app that is installed already is updated instead ({@link update}).
   */
  async install(
    id: string,
    options: StoreInstallOptions & { force?: boolean; switchStore?: boolean } = {},
  ): Promise<StoreResult> {
    checkAppId(id);
    const installed = (await this.#reader.installed()).get(id);
    if (installed) return this.update(id, options);
    return this.#installer.install(id, options);
  }

  /**
   * Installs a package file; over an installed app, guarded as an update from a store is
   * (backup, wait for ready, rollback: {@link StoreUpdater.installFile}).
   */
  installFile(archivePath: string, options: FileInstallOptions = {}): Promise<AppStatus> {
    return this.#updater.installFile(archivePath, options);
  }

  /** Installs an uploaded package ({@link installFile}), at most `maxPackageBytes`. */
  installUpload(source: Readable, options: FileInstallOptions = {}): Promise<AppStatus> {
    if (options.id !== undefined) checkAppId(options.id);
    return this.#options.apps.receivePackage(source, (path) => this.installFile(path, options));
  }

  /** What is installed of each app, and from which store (no store is read). */
  installed(): Promise<Map<string, InstalledView>> {
    return this.#reader.installed();
  }

  /** Updates an installed app ({@link StoreUpdater.update}). */
  update(id: string, options: StoreUpdateOptions = {}): Promise<StoreResult> {
    return this.#updater.update(id, options);
  }

  /** Asks every store now; the result is kept for {@link updates} and `appvisor status`. */
  check(): Promise<UpdateCheck> {
    return this.#checker.check();
  }

  /** The last check's result (nothing asked). */
  updates(): UpdateCheck {
    return this.#checker.updates();
  }

  /** Updates every installed app that has a newer build; one failure does not stop the rest. */
  async updateAll(options: { force?: boolean } = {}): Promise<UpdateAllResult> {
    const check = await this.check();
    const results: UpdateAllResult['results'] = [];
    for (const update of check.updates) {
      try {
        results.push({
          app: update.app,
          ok: true,
          result: await this.update(update.app, { force: options.force ?? false }),
        });
      } catch (error) {
        results.push({ app: update.app, ok: false, error: problemOf(update.store, error) });
      }
    }
    return { results };
  }

  readonly close = once(async () => {
    await this.#checker.close();
  });

  destroy(): void {
    this.#checker.destroy();
  }
}
