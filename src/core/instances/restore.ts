/**
 * Restores: an instance's database and files replaced by new ones, never losing the live ones
 * before the new ones are complete. Each step is in the journal (kind `restore`) before it is
 * taken: a crash before the new database and folder are complete drops them at the next
 * start, a crash after it finishes the swap.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncFolder } from '../../lib/atomic-write.js';
import { chownTree, ensureFolder, removeTree } from '../../lib/safe-fs.js';
import { retiredPrefix, stagingPrefix } from '../database/index.js';
import type { InstanceConnection, RestoreTarget, Row } from './model.js';
import type { InstanceRegistry, Live } from './registry.js';
import { connectionOf, databaseOf } from './rows.js';

/** What a restore records in the journal (kind `restore`) before it swaps anything. */
interface RestoreWork {
  /** The database the restore fills, put in the live one's place by the swap. */
  stagingDb: string;
  /** The name the live database has after the swap, until it is dropped. */
  retired: string;
  /** The folder the restore fills, moved in place of the live one. */
  newFolder: string;
  /** Where the live folder goes, until it is removed. */
  oldFolder: string;
}

/** The journal's kind of restores. */
const restoreKind = 'restore';

/**
 * Steps of a restore in the journal: `prepare` until the new database and folder are
 * complete (a crash then drops them), `swap` from then on (a crash is rolled forward).
 */
type RestoreStep = 'prepare' | 'swap';

/** Restores of instances, and what crashes left of them. */
export class Restorer {
  readonly #registry: InstanceRegistry;

  constructor(registry: InstanceRegistry) {
    this.#registry = registry;
  }

  /** Marks the databases this manager's restores make (see dropLeftoverDatabases). */
  get #tag(): string {
    return this.#registry.options.nodeId
      .replace(/[^a-z0-9]/gi, '')
      .slice(0, 8)
      .toLowerCase();
  }

  /**
   * At start, after the instances are loaded: a restore that had its new database and folder
   * complete is rolled forward, one that had not is dropped; then what restores left outside
   * the journal is cleaned up.
   */
  async recover(): Promise<void> {
    const { journal, options } = this.#registry;
    for (const entry of await journal.pending<RestoreWork>(restoreKind)) {
      await this.#finish(entry.subject, entry.step as RestoreStep, entry.data).catch(
        (error: unknown) => {
          options.logger.error(
            { err: error, instance: entry.subject },
            'cannot finish a restore that was cut off; the next start tries again',
          );
        },
      );
    }
    await this.#cleanUp();
  }

  /**
   * What restores interrupted by a crash left outside the journal: staging and retired
   * databases are dropped (the swap is one transaction, so the live name always holds a
   * complete database); a staging folder is removed; a retired folder is moved back when the
   * live one is missing. What a journal entry still names (one that could not be finished) is
   * kept for the next start.
   */
  async #cleanUp(): Promise<void> {
    const { journal, options } = this.#registry;
    const kept = new Set<string>();
    for (const { data } of await journal.pending<RestoreWork>(restoreKind)) {
      for (const name of [data.stagingDb, data.retired]) kept.add(name);
      for (const path of [data.newFolder, data.oldFolder]) kept.add(basename(path));
    }
    const dropped = await options.database.dropLeftovers(this.#tag, [...kept]);
    if (dropped.length > 0) {
      options.logger.warn({ databases: dropped }, 'dropped databases of interrupted restores');
    }
    const staging = options.restoreStagingDir;
    for (const name of await readdir(staging).catch(() => [] as string[])) {
      if (kept.has(name)) continue;
      const match = /^(new|old)-(.+)-[0-9a-f]{12}$/.exec(name);
      const live = match ? this.#registry.live.get(match[2]!) : undefined;
      const liveFolder = live ? this.#registry.dataDir(live.row) : undefined;
      if (match?.[1] === 'old' && liveFolder && !(await lstat(liveFolder).catch(() => null))) {
        await rename(join(staging, name), liveFolder);
      } else {
        await removeTree(join(staging, name));
      }
    }
    // Leftovers of versions that staged restores inside the app's folder (which its user can
    // change): removed without following links, never moved back.
    const apps = new Set([...this.#registry.live.values()].map((live) => live.row.app));
    for (const app of apps) {
      const folder = options.apps.dataFolder(app);
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names) {
        if (/^\.(restore|old)-(.+)-[0-9a-f]{12}$/.test(name)) await removeTree(join(folder, name));
      }
    }
  }

  /**
   * Replaces the instance's database and files with new ones: `prepare` fills a new database
   * (as the instance's role) and a new folder beside the live ones; only when it succeeded is
   * the instance stopped in its service, the database swapped in one transaction, the folders
   * swapped, and the instance started again. If `prepare` fails, the new ones are dropped and
   * nothing else changed. To be run in the instance's queue; `live` is absent for an instance
   * being created (a restore as a new instance), which no service hosts yet.
   */
  async replace(
    row: Row,
    live: Live | undefined,
    prepare: (target: RestoreTarget) => Promise<void>,
  ): Promise<void> {
    const { journal } = this.#registry;
    const { id } = row;
    // A restore of this instance that failed in its swap is finished first.
    const left = (await journal.pending<RestoreWork>(restoreKind)).find(
      (entry) => entry.subject === id,
    );
    if (left) await this.#finish(id, left.step as RestoreStep, left.data);
    const work = await this.#stage(row, prepare);
    await live?.lifecycle.stop();
    await journal.step(restoreKind, id, 'swap' satisfies RestoreStep);
    await this.#swapIn(row, work);
    await journal.end(restoreKind, id);
    live?.lifecycle.dispatch('host');
  }

  /**
   * Makes and fills the new database and folder, journaled as `prepare`; a failure drops
   * them. Staged where no app's user can reach (see restoreStagingDir): unpacked and chowned
   * as root there, then moved in with a rename (which follows no link).
   */
  async #stage(row: Row, prepare: (target: RestoreTarget) => Promise<void>): Promise<RestoreWork> {
    const { options, journal } = this.#registry;
    const { id } = row;
    const suffix = randomBytes(6).toString('hex');
    const staging = options.restoreStagingDir;
    await ensureFolder(staging, 0o700);
    const work: RestoreWork = {
      stagingDb: `${stagingPrefix}${this.#tag}_${suffix}`,
      retired: `${retiredPrefix}${this.#tag}_${suffix}`,
      newFolder: join(staging, `new-${id}-${suffix}`),
      oldFolder: join(staging, `old-${id}-${suffix}`),
    };
    await journal.begin(restoreKind, id, 'prepare' satisfies RestoreStep, work);
    try {
      await options.database.resetRoles([databaseOf(options, row)]);
      await options.database.createStaging(work.stagingDb, row.db_name);
      await this.#registry.pause('restore.fill');
      await ensureFolder(work.newFolder, 0o700);
      await prepare({
        connection: connectionOf(options, row, work.stagingDb),
        folder: work.newFolder,
      });
      const owner = options.apps.ownerOf(row.app);
      if (owner) await chownTree(work.newFolder, owner.uid, owner.gid);
      await ensureFolder(work.newFolder, 0o700, owner);
    } catch (error) {
      await this.#finish(id, 'prepare', work).catch((cleanup: unknown) => {
        options.logger.error(
          { err: cleanup, instance: id },
          'cannot drop what a failed restore made; the next start does',
        );
      });
      throw error;
    }
    return work;
  }

  /**
   * Puts a restore's complete new database and folder in place of the live ones. Each part
   * checks what is done, so it runs again after a crash at any point: the database swap is
   * one transaction (the staging name is gone once it committed), then the folders move.
   */
  async #swapIn(row: Row, work: RestoreWork): Promise<void> {
    const { database } = this.#registry.options;
    if (await database.exists(work.stagingDb)) {
      await database.swap(row.db_name, work.stagingDb, work.retired);
    } else {
      await database.dropDatabase(work.retired);
    }
    await this.#registry.pause('restore.swap');
    const liveFolder = this.#registry.dataDir(row);
    if (await lstat(work.newFolder).catch(() => null)) {
      // Whatever is at the live name (the folder, or a link its user put there) moves out.
      await rename(liveFolder, work.oldFolder).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
      await rename(work.newFolder, liveFolder);
      await syncFolder(dirname(liveFolder));
      await syncFolder(dirname(work.newFolder));
    }
    await removeTree(work.oldFolder);
  }

  /**
   * Ends a restore the journal holds: rolled forward when it reached the swap and its instance
   * is still there; otherwise what it made is dropped and the live instance stays as it was.
   */
  async #finish(id: string, step: RestoreStep, work: RestoreWork): Promise<void> {
    const { options, journal } = this.#registry;
    const live = this.#registry.live.get(id);
    if (step === 'swap' && live) {
      options.logger.warn({ instance: id }, 'finishing the swap of a restore');
      await this.#swapIn(live.row, work);
    } else {
      await options.database.dropDatabase(work.stagingDb);
      await removeTree(work.newFolder);
    }
    await journal.end(restoreKind, id);
  }

  /**
   * Runs `use` with a new empty database owned by the instance's role (the role a restore fills
   * as), and drops it afterwards, whatever happened: for checking that a backup restores. It
   * is named like a restore's staging database, so one a crash left behind is dropped at the
   * next start. The live database and folder are not touched.
   */
  async withScratchDatabase<T>(
    row: Row,
    use: (connection: InstanceConnection) => Promise<T>,
  ): Promise<T> {
    const { options } = this.#registry;
    const name = `${stagingPrefix}${this.#tag}_${randomBytes(6).toString('hex')}`;
    await options.database.createStaging(name, row.db_name);
    try {
      return await use(connectionOf(options, row, name));
    } finally {
      await options.database.dropDatabase(name).catch((error: unknown) => {
        options.logger.warn({ err: error, database: name }, 'cannot drop a scratch database');
      });
    }
  }
}
