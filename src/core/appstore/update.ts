import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { AlarmRaiser } from '../alarms/index.js';
import type { AppService, AppStatus, InstallOptions } from '../apps/index.js';
import type { BackupService } from '../backup/index.js';
import { AppvisorError } from '../errors/index.js';
import { downloadResolved, type DownloadOptions } from './install.js';
import { keptPrefix, type StoreRecords, type UpdateJournal } from './journal.js';
import type { OperationParts } from './operations.js';
import { normalizeKey, type StoreReader } from './read.js';
import { waitReady, type ReadinessWatch } from './ready.js';
import type { StagedPackage } from '../catalog/index.js';
import type { FileTarget, Resolved, StoreOperation, StoreResult, UpdateTarget } from './types.js';

/** The options of an update from the stores. */
export interface StoreUpdateOptions {
  version?: string;
  store?: string;
  force?: boolean;
  switchStore?: boolean;
}

/** The options of an install of a package file ({@link StoreUpdater.installFile}). */
export type FileInstallOptions = Pick<InstallOptions, 'id' | 'autostart' | 'purge'>;

/** A target's version as the texts say it. */
export function versionText(target: Pick<UpdateTarget, 'version'>): string {
  return target.version ?? '(no version)';
}

/** What {@link StoreUpdater} needs. */
export interface StoreUpdaterOptions extends OperationParts {
  reader: StoreReader;
  records: StoreRecords;
  apps: Pick<
    AppService,
    'list' | 'status' | 'install' | 'archiveInstalled' | 'startApp' | 'stage' | 'discardStaged'
  >;
  backups: Pick<BackupService, 'backupApp' | 'restore'>;
  readiness: ReadinessWatch;
  alarms: AlarmRaiser;
  logger: Logger;
  download: DownloadOptions;
  /** How long an updated app may take until it and every enabled instance are ready. */
  updateTimeoutMs: number;
  /** An app was installed from a store (its update is no longer available). */
  recorded: (app: string) => void;
}

/**
 * Updates installed apps: the pin to their store and key, the backup first, the new version
 * in place, the wait for it to get ready, and the rollback when it does not. Each step is
 * journaled first ({@link StoreRecords}), so that a manager killed in it finishes it at the
 * next start (resume.ts). A package file installed over an installed app (`app install`) goes
 * the same way ({@link installFile}), without the store's pin and record.
 */
export class StoreUpdater {
  readonly #options: StoreUpdaterOptions;

  constructor(options: StoreUpdaterOptions) {
    this.#options = options;
  }

  /**
   * Updates an installed app to the newest build of its store, or to `version`. A lower build
   * than the installed one is refused (DOWNGRADE_REFUSED) and the same build is left alone,
   * unless `force`. The app's instances are backed up first; when the new version does not
   * have the app and every enabled instance ready within the update timeout, the previous
   * version is installed again and every instance restored from that backup (UPDATE_FAILED,
   * alarm `update-failed`).
   */
  async update(id: string, options: StoreUpdateOptions = {}): Promise<StoreResult> {
    // Whole, under the app's turn: a second update at once compares with what the first left.
    return this.#options.queue.run(id, () => this.#update(id, options));
  }

  async #update(id: string, options: StoreUpdateOptions): Promise<StoreResult> {
    const { reader, apps } = this.#options;
    const before = await apps.status(id);
    const installed = (await reader.installed()).get(id) ?? {
      version: before.version,
      build: before.build,
      store: null,
    };
    const pinnedKey = await this.#checkPin(id, installed.store, options);
    const resolved = await reader.resolve(
      id,
      options.switchStore ? options : { ...options, store: installed.store ?? undefined },
      installed.store,
    );
    const target = resolved.version;
    const from = { version: installed.version, build: installed.build };
    const to = { version: target.version, build: target.build };
    if (!options.force && installed.build !== null) {
      if (target.build === installed.build) {
        return { app: id, changed: false, from, to, status: before };
      }
      if (target.build < installed.build) {
        throw new AppvisorError(
          'DOWNGRADE_REFUSED',
          `${id} build ${installed.build} (${installed.version ?? 'no version'}) is installed; ${target.version} is build ${target.build}, older (use --force to downgrade)`,
        );
      }
    }
    reader.requireSigned(resolved);
    // Signed by another trusted key, or unsigned in a store that allows that: the pin holds.
    if (pinnedKey !== null && !options.switchStore) {
      const key = reader.signedBy(resolved.source, resolved.app, resolved.version);
      if (key !== pinnedKey) {
        throw new AppvisorError(
          'APPSTORE_PINNED',
          `${id} was installed with a package signed by the key ${pinnedKey} of app store ${installed.store ?? ''}; ${resolved.version.version} is ${key === null ? 'not signed by a trusted key' : `signed by another key (${key})`}: confirm the change of key with --switch-store`,
        );
      }
    }
    const status = await this.#run(id, resolved, from);
    return { app: id, changed: true, from, to, status };
  }

  /** The update once it is decided: download, replace; its operation from start to end. */
  async #run(
    id: string,
    resolved: Resolved,
    from: { version: string | null; build: number | null },
  ): Promise<AppStatus> {
    const { apps, operations, reader } = this.#options;
    const { version } = resolved;
    const target = reader.recordOf(resolved);
    const expect = { version: version.version, build: version.build };
    return this.#operate(operations.begin('update', id, version), async (op, work) => {
      const file = await downloadResolved(resolved, op, this.#options.download);
      work.push(file);
      // A package that cannot be installed leaves the previous version as it was.
      const status = await this.#replace(
        target,
        () => apps.install(file, { id, expect, skipUpdateHook: true }),
        op,
        work,
      );
      await this.succeeded(target, from);
      return status;
    });
  }

  /**
   * Installs a package file (`app install`, the API's upload). A first install is just that.
   * Over an installed app it is an update like one from a store ({@link update}): the
   * instances backed up first, the new version waited for until it and every enabled instance
   * are ready, else the previous version and the instances put back (UPDATE_FAILED, alarm
   * `update-failed`). It does not pin the app to a store; the app is unpinned as before (the
   * store's record speaks only of the version the store installed).
   */
  async installFile(archivePath: string, options: FileInstallOptions = {}): Promise<AppStatus> {
    const { apps, queue } = this.#options;
    const staged = await apps.stage(
      archivePath,
      options.id !== undefined ? { id: options.id } : {},
    );
    try {
      // Under the app's turn, as a store update: one update of an app at a time.
      return await queue.run(staged.id, () => this.#installFile(staged, options));
    } finally {
      // Used up when it was installed; else its unpacked folder is removed.
      await apps.discardStaged(staged).catch(() => undefined);
    }
  }

  async #installFile(staged: StagedPackage, options: FileInstallOptions): Promise<AppStatus> {
    const { apps, operations } = this.#options;
    const { id, manifest } = staged;
    const install: InstallOptions = {
      id,
      ...(options.autostart !== undefined ? { autostart: options.autostart } : {}),
      ...(options.purge !== undefined ? { purge: options.purge } : {}),
    };
    const installed = (await apps.list()).some((app) => app.id === id);
    if (!installed) return apps.install(staged, install);
    const from = await apps.status(id);
    const target: FileTarget = {
      app: id,
      store: null,
      version: manifest.version ?? null,
      build: manifest.build ?? null,
    };
    const op = operations.begin(
      'update',
      id,
      { version: versionText(target), build: target.build ?? 0, size: 0 },
      'backing-up',
    );
    return this.#operate(op, async (_op, work) => {
      const status = await this.#replace(
        target,
        () => apps.install(staged, { ...install, skipUpdateHook: true }),
        op,
        work,
      );
      await this.succeeded(target, from);
      return status;
    });
  }

  /**
   * Runs an update's operation from start to end: a failure or rollback while the manager runs
   * leaves nothing to finish (the journal dropped); the work files are removed before the
   * operation counts as finished.
   */
  async #operate(
    op: StoreOperation,
    body: (op: StoreOperation, work: string[]) => Promise<AppStatus>,
  ): Promise<AppStatus> {
    const work: string[] = [];
    let failure: unknown = undefined;
    try {
      return await body(op, work);
    } catch (error) {
      failure = error;
      await this.#options.records.dropJournal(op.app).catch(() => undefined);
      throw error;
    } finally {
      for (const file of work) await rm(file, { force: true }).catch(() => undefined);
      this.#options.operations.finish(op, failure);
    }
  }

  /**
   * An installed app is pinned to the store it came from (and the key that signed it): its
   * new code inherits the app's user, data and instance credentials, so only that store may
   * replace it. When that store cannot be read, the update fails rather than fall back to
   * another store listing the same id. Another store, or replacing an app installed from a
   * file, needs `switchStore`. Answers the pinned key (null: none, or switching).
   */
  async #checkPin(
    id: string,
    pinned: string | null,
    options: StoreUpdateOptions,
  ): Promise<string | null> {
    if (options.switchStore) return null;
    if (pinned === null) {
      throw new AppvisorError(
        'APPSTORE_PINNED',
        `${id} is installed, but not from an app store (from a package file, or since changed by one): installing it from an app store replaces it; confirm with --switch-store`,
      );
    }
    if (options.store !== undefined && options.store !== pinned) {
      throw new AppvisorError(
        'APPSTORE_PINNED',
        `${id} was installed from app store ${pinned}; installing it from ${options.store} gives that store's code its data and credentials: confirm with --switch-store`,
      );
    }
    const key = await this.#options.records.keyOf(id, pinned);
    // A key no longer in the store's list cannot match; compare in one text form.
    return key === null ? null : normalizeKey(key);
  }

  /**
   * The update proper, once the package is here: backup, install (`put`), wait, or roll back.
   * Each step is journaled first, so that a manager killed in it finishes it at the next start.
   */
  async #replace(
    target: UpdateTarget,
    put: () => Promise<AppStatus>,
    op: StoreOperation,
    work: string[],
  ): Promise<AppStatus> {
    const { apps, backups, records, operations } = this.#options;
    const id = target.app;
    const before = await apps.status(id);
    const wasRunning = before.state !== 'stopped' && before.state !== 'fatal';
    const previous = join(
      this.#options.download.workDir,
      `${keptPrefix}${id}-${randomBytes(6).toString('hex')}.tar`,
    );
    work.push(previous);
    await apps.archiveInstalled(id, previous);
    const journal: UpdateJournal = {
      app: id,
      phase: 'backing-up',
      from: { version: before.version, build: before.build },
      target,
      wasRunning,
      previous,
      backups: [],
    };
    await records.journal(journal);
    operations.advance(op, 'backUp');
    const saved = await backups.backupApp(id, `before the update to ${versionText(target)}`);
    journal.backups = saved.flatMap((entry) =>
      entry.instance === null ? [] : [{ file: entry.file, instance: entry.instance }],
    );
    journal.phase = 'installing';
    await records.journal(journal);
    operations.advance(op, 'install');
    // A package that cannot be installed leaves the previous version as it was (apps.install).
    // Autostart is kept; the app runs afterwards if it ran or autostart is on, and is then
    // watched until ready.
    const status = await put();
    if (!wasRunning && status.state === 'stopped') return status;
    operations.advance(op, 'wait');
    const failure = await this.waitReady(id);
    if (failure === null) return apps.status(id);
    return this.rollBack(journal, `${id} ${versionText(target)} did not get ready: ${failure}`, op);
  }

  /** Waits for the app and its enabled instances to be ready (null), or says what is wrong. */
  waitReady(id: string): Promise<string | null> {
    return waitReady(this.#options.readiness, id, this.#options.updateTimeoutMs);
  }

  /**
   * Puts the previous version back, running again if it ran, and every instance as the backup
   * made before the update has it; raises `update-failed` and throws UPDATE_FAILED.
   */
  async rollBack(journal: UpdateJournal, reason: string, op: StoreOperation): Promise<never> {
    const { apps, logger, records, alarms } = this.#options;
    const id = journal.app;
    const was = journal.from.version ?? 'the previous version';
    this.#options.operations.advance(op, 'rollBack');
    journal.phase = 'rolling-back';
    await records.journal(journal);
    logger.error({ app: id, version: versionText(journal.target) }, `${reason}; rolling back`);
    try {
      const status = await apps.install(records.kept(journal), { id, skipUpdateHook: true });
      if (journal.wasRunning && (status.state === 'stopped' || status.state === 'fatal')) {
        await apps.startApp(id);
      }
      // Every instance as the backup made before the update has it.
      for (const entry of journal.backups) {
        await this.#options.backups.restore(entry.file, { into: entry.instance });
      }
      await this.waitReady(id);
    } catch (error) {
      const text = `${reason}; the rollback to ${was} failed too: ${(error as Error).message}`;
      alarms.raise('update-failed', 'critical', text, id);
      throw new AppvisorError('UPDATE_FAILED', text, { cause: error });
    }
    const text = `${reason}; rolled back to ${was}, instances restored from the backup made before the update`;
    alarms.raise('update-failed', 'error', text, id);
    this.#options.events.record({
      kind: 'app.update-failed',
      severity: 'error',
      subject: id,
      text,
    });
    throw new AppvisorError('UPDATE_FAILED', text);
  }

  /**
   * An update is done: recorded (its journal dropped; a package file's is not recorded, only
   * its journal dropped), its alarm cleared, an event.
   */
  async succeeded(
    target: UpdateTarget,
    from: { version: string | null },
    note = '',
  ): Promise<void> {
    const { app: id } = target;
    const { records } = this.#options;
    if (target.store === null) {
      await records.dropJournal(id);
    } else {
      await records.record(target);
      this.#options.recorded(id);
    }
    const source =
      target.store === null
        ? 'from a package file'
        : `(build ${target.build}) from app store ${target.store}`;
    this.#options.alarms.clear('update-failed', `${id} updated to ${versionText(target)}`, id);
    this.#options.events.record({
      kind: 'app.updated',
      severity: 'info',
      subject: id,
      text: `${id} updated from ${from.version ?? '(no version)'} to ${versionText(target)} ${source}${note}`,
    });
  }
}
