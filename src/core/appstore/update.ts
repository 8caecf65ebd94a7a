import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { AlarmRaiser } from '../alarms/index.js';
import type { AppService, AppStatus } from '../apps/index.js';
import type { BackupService } from '../backup/index.js';
import { AppvisorError } from '../errors/index.js';
import { downloadResolved, type DownloadOptions } from './install.js';
import { keptPrefix, type StoreRecords, type UpdateJournal } from './journal.js';
import type { OperationParts } from './operations.js';
import { normalizeKey, type StoreReader } from './read.js';
import { waitReady, type ReadinessWatch } from './ready.js';
import type { InstallRecord, Resolved, StoreOperation, StoreResult } from './types.js';

/** The options of an update from the stores. */
export interface StoreUpdateOptions {
  version?: string;
  store?: string;
  force?: boolean;
  switchStore?: boolean;
}

/** What {@link StoreUpdater} needs. */
export interface StoreUpdaterOptions extends OperationParts {
  reader: StoreReader;
  records: StoreRecords;
  apps: Pick<AppService, 'status' | 'install' | 'archiveInstalled' | 'startApp'>;
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
 * next start (resume.ts).
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
    const { operations, records } = this.#options;
    const { version } = resolved;
    const op = operations.begin('update', id, version);
    const work: string[] = [];
    let failure: unknown = undefined;
    try {
      const file = await downloadResolved(resolved, op, this.#options.download);
      work.push(file);
      const status = await this.#replace(id, resolved, file, op, work);
      await this.succeeded(this.#options.reader.recordOf(resolved), from);
      return status;
    } catch (error) {
      failure = error;
      // Failed or rolled back while the manager ran: nothing is left to finish.
      await records.dropJournal(id).catch(() => undefined);
      throw error;
    } finally {
      // Finished only once its files are gone: a finished operation leaves nothing behind.
      for (const file of work) await rm(file, { force: true }).catch(() => undefined);
      operations.finish(op, failure);
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
   * The update proper, once the package is here: backup, install, wait, or roll back. Each
   * step is journaled first, so that a manager killed in it finishes it at the next start.
   */
  async #replace(
    id: string,
    resolved: Resolved,
    file: string,
    op: StoreOperation,
    work: string[],
  ): Promise<AppStatus> {
    const { apps, backups, records, operations } = this.#options;
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
      target: this.#options.reader.recordOf(resolved),
      wasRunning,
      previous,
      backups: [],
    };
    await records.journal(journal);
    operations.advance(op, 'backUp');
    const saved = await backups.backupApp(id, `before the update to ${resolved.version.version}`);
    journal.backups = saved.flatMap((entry) =>
      entry.instance === null ? [] : [{ file: entry.file, instance: entry.instance }],
    );
    journal.phase = 'installing';
    await records.journal(journal);
    operations.advance(op, 'install');
    const expect = { version: resolved.version.version, build: resolved.version.build };
    // A package that cannot be installed leaves the previous version as it was (apps.install).
    // Autostart is kept; the app runs afterwards if it ran or autostart is on, and is then
    // watched until ready.
    const status = await apps.install(file, { id, expect, skipUpdateHook: true });
    if (!wasRunning && status.state === 'stopped') return status;
    operations.advance(op, 'wait');
    const failure = await this.waitReady(id);
    if (failure === null) return apps.status(id);
    return this.rollBack(
      journal,
      `${id} ${resolved.version.version} did not get ready: ${failure}`,
      op,
    );
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
    logger.error({ app: id, version: journal.target.version }, `${reason}; rolling back`);
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

  /** An update is done: recorded (its journal dropped), its alarm cleared, an event. */
  async succeeded(
    target: InstallRecord,
    from: { version: string | null },
    note = '',
  ): Promise<void> {
    const { app: id } = target;
    await this.#options.records.record(target);
    this.#options.recorded(id);
    this.#options.alarms.clear('update-failed', `${id} updated to ${target.version}`, id);
    this.#options.events.record({
      kind: 'app.updated',
      severity: 'info',
      subject: id,
      text: `${id} updated from ${from.version ?? '(no version)'} to ${target.version} (build ${target.build}) from app store ${target.store}${note}`,
    });
  }
}
