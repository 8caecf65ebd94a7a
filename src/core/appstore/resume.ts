import { readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { AppService } from '../apps/index.js';
import { AppvisorError } from '../errors/index.js';
import { keptPrefix, type StoreRecords, type UpdateJournal } from './journal.js';
import type { OperationParts } from './operations.js';
import { versionText, type StoreUpdater } from './update.js';

/** What {@link UpdateResumer} needs. */
export interface UpdateResumerOptions extends OperationParts {
  records: StoreRecords;
  updater: StoreUpdater;
  apps: Pick<AppService, 'status' | 'startApp'>;
  logger: Logger;
  /** Where downloads and kept packages are (`<data>/apps`). */
  workDir: string;
}

/**
 * At the start, the updates a killed manager left unfinished (their journal in the store):
 * each finished or rolled back, and what the last run's downloads left removed.
 */
export class UpdateResumer {
  readonly #options: UpdateResumerOptions;

  constructor(options: UpdateResumerOptions) {
    this.#options = options;
  }

  /** Cleans the work folder and resumes each journaled update in the background. */
  async start(): Promise<void> {
    const { records, queue, logger, workDir } = this.#options;
    const journals = await records.journals();
    const kept = new Set(journals.map((journal) => basename(journal.previous)));
    // Leftovers of a run that ended during a download or an update (but what the unfinished
    // updates roll back to).
    const entries = await readdir(workDir).catch(() => [] as string[]);
    for (const entry of entries) {
      if (entry.startsWith('.appstore-') || (entry.startsWith(keptPrefix) && !kept.has(entry))) {
        await rm(join(workDir, entry), { force: true, recursive: true });
      }
    }
    // Updates a killed manager left unfinished: finished or rolled back, in the background
    // (waiting for the app to get ready must not hold the start up), each in its app's turn.
    for (const journal of journals) {
      void queue
        .run(journal.app, () => this.#resume(journal))
        .catch((error: unknown) => {
          logger.error({ err: error, app: journal.app }, 'finishing an update failed');
        });
    }
  }

  /**
   * Finishes an update that a killed manager left: before the new version was in place, the
   * app is left (or started again) as it was; with the new version in place, it is waited for
   * as the update would have, and kept or rolled back; a rollback under way is done again.
   */
  async #resume(journal: UpdateJournal): Promise<void> {
    const { apps, events, logger, updater, records, operations } = this.#options;
    const { app: id, target } = journal;
    const op = operations.begin(
      'update',
      id,
      { version: versionText(target), build: target.build ?? 0, size: 0 },
      journal.phase === 'rolling-back' ? 'rolling-back' : 'waiting',
    );
    logger.warn(
      { app: id, phase: journal.phase },
      'finishing an update the manager was stopped in',
    );
    let failure: unknown = undefined;
    try {
      const status = await apps.status(id);
      const swapped =
        status.version === target.version && (status.build ?? target.build) === target.build;
      if (journal.phase === 'rolling-back') {
        await updater.rollBack(
          journal,
          `${id} ${versionText(target)}: the manager was stopped while rolling the update back`,
          op,
        );
      }
      if (journal.phase === 'backing-up' || !swapped) {
        const text = `${id}: the update to ${versionText(target)} was cut off by a stop of the manager before it was installed; ${journal.from.version ?? 'the previous version'} stays`;
        events.record({ kind: 'app.update-failed', severity: 'warning', subject: id, text });
        if (journal.wasRunning && (status.state === 'stopped' || status.state === 'fatal')) {
          await apps.startApp(id);
        }
        failure = new AppvisorError('UPDATE_FAILED', text);
        return;
      }
      if (journal.wasRunning) {
        if (status.state === 'stopped' || status.state === 'fatal') await apps.startApp(id);
        const wrong = await updater.waitReady(id);
        if (wrong !== null) {
          await updater.rollBack(
            journal,
            `${id} ${versionText(target)} did not get ready after a restart of the manager: ${wrong}`,
            op,
          );
        }
      }
      await updater.succeeded(target, journal.from, ' (finished after a restart of the manager)');
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await records.dropJournal(id).catch(() => undefined);
      await rm(records.kept(journal), { force: true }).catch(() => undefined);
      // Finished only once the journal and the kept package are gone.
      operations.finish(op, failure);
    }
  }
}
