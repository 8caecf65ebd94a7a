import { basename, join } from 'node:path';
import { AppvisorError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { InstallRecord, UpdateTarget } from './types.js';

/**
 * An update under way, kept in the store (`store_updates`) at each step, so that a manager
 * killed during it finishes it, or its rollback, at the next start.
 */
export interface UpdateJournal {
  app: string;
  /**
   * `backing-up`: the installed version is still the previous one; `installing`: the new one
   * may be in place (it replaces the previous one in one rename), then waited for;
   * `rolling-back`: the previous one is being put back.
   */
  phase: 'backing-up' | 'installing' | 'rolling-back';
  from: { version: string | null; build: number | null };
  /**
   * What store_installs gets once the update succeeds; a package file's version (`store`
   * null) is put in place without a record.
   */
  target: UpdateTarget;
  /** Whether the app ran before the update: it is waited for, and runs again after a rollback. */
  wasRunning: boolean;
  /** The previous version as a package (`<workDir>/.update-…`), to roll back to. */
  previous: string;
  /** The backups made before the update, which a rollback restores. */
  backups: { file: string; instance: string }[];
}

/** Names of the previous versions an update keeps (not removed at start while journaled). */
export const keptPrefix = '.update-';

/** What {@link StoreRecords} needs. */
export interface StoreRecordsOptions {
  store: Pick<Store, 'query' | 'transaction'>;
  nodeId: string;
  /** Where the kept packages are (`<data>/apps`). */
  workDir: string;
}

/**
 * What the app store writes down: which app came from which store (`store_installs`) and the
 * journal of each update under way (`store_updates`).
 */
export class StoreRecords {
  readonly #options: StoreRecordsOptions;

  constructor(options: StoreRecordsOptions) {
    this.#options = options;
  }

  /** Records what is installed from a store; an update's journal goes in the same step. */
  async record(record: InstallRecord): Promise<void> {
    const { store, nodeId } = this.#options;
    await store.transaction(async (query) => {
      await query(
        `INSERT INTO store_installs (node_id, app, store, version, build, sha256, key, installed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         ON CONFLICT (node_id, app) DO UPDATE SET store = excluded.store,
           version = excluded.version, build = excluded.build, sha256 = excluded.sha256,
           key = excluded.key, installed_at = now()`,
        [nodeId, record.app, record.store, record.version, record.build, record.sha256, record.key],
      );
      await query('DELETE FROM store_updates WHERE node_id = $1 AND app = $2', [
        nodeId,
        record.app,
      ]);
    });
  }

  /** The key that signed what a store installed of an app (null: none, or not recorded). */
  async keyOf(app: string, store: string): Promise<string | null> {
    const row = await this.#options.store.query<{ key: string | null }>(
      'SELECT key FROM store_installs WHERE node_id = $1 AND app = $2 AND store = $3',
      [this.#options.nodeId, app, store],
    );
    return row.rows[0]?.key ?? null;
  }

  /** Writes an update's journal as it is now. */
  async journal(journal: UpdateJournal): Promise<void> {
    await this.#options.store.query(
      `INSERT INTO store_updates (node_id, app, phase, journal) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id, app)
       DO UPDATE SET phase = excluded.phase, journal = excluded.journal, updated_at = now()`,
      [this.#options.nodeId, journal.app, journal.phase, JSON.stringify(journal)],
    );
  }

  async dropJournal(app: string): Promise<void> {
    await this.#options.store.query('DELETE FROM store_updates WHERE node_id = $1 AND app = $2', [
      this.#options.nodeId,
      app,
    ]);
  }

  /** The updates under way, oldest first. */
  async journals(): Promise<UpdateJournal[]> {
    const result = await this.#options.store.query<{ journal: UpdateJournal }>(
      'SELECT journal FROM store_updates WHERE node_id = $1 ORDER BY started_at',
      [this.#options.nodeId],
    );
    return result.rows.map((row) => row.journal);
  }

  /** The journal's kept package: only ever a file of the work folder, whatever the row says. */
  kept(journal: UpdateJournal): string {
    const name = basename(journal.previous);
    if (!name.startsWith(keptPrefix)) {
      throw new AppvisorError('INTERNAL', `not a kept package: ${journal.previous}`);
    }
    return join(this.#options.workDir, name);
  }
}
