/**
 * Database care: VACUUM (ANALYZE) of an instance's database, or VACUUM FULL and REINDEX
 * DATABASE to give the space of deleted rows back to the disk, one table after the other with
 * its progress, in the instance's queue (never during its backup, restore or delete).
 */
import type pg from 'pg';
import { bytes } from '../../lib/format.js';
import { connectClient } from '../../lib/pg-clients.js';
import { databaseError } from '../database/index.js';
import { isDiskFull } from '../disk/index.js';
import { AppvisorError } from '../errors/index.js';
import type { InstanceConnection, Row, VacuumProgress, VacuumResult } from './model.js';
import type { InstanceRegistry } from './registry.js';
import { connectionOf, databaseOf } from './rows.js';
import { unmeasured, type UsageMeter } from './usage.js';

/**
 * The tables a vacuum goes through: every table and materialized view of the database but the
 * cluster's shared catalogs (not the database's to vacuum) and other sessions' temporary
 * tables; partitions one by one (their parent holds no rows). The database's owner may vacuum
 * each of them, system catalogs included.
 */
const tablesSql = `
  SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'm') AND NOT c.relisshared
     AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
   ORDER BY n.nspname = 'pg_catalog', n.nspname, c.relname`;

/** PostgreSQL's progress of the statement running, by what runs. */
const progressSql = {
  vacuum: `SELECT phase, heap_blks_scanned AS done, heap_blks_total AS total, NULL AS relation
             FROM pg_stat_progress_vacuum WHERE pid = $1`,
  full: `SELECT phase, heap_blks_scanned AS done, heap_blks_total AS total, NULL AS relation
           FROM pg_stat_progress_cluster WHERE pid = $1`,
  reindex: `SELECT phase, blocks_done AS done, blocks_total AS total, relid::regclass::text AS relation
              FROM pg_stat_progress_create_index WHERE pid = $1`,
};

/** How long a table may stay locked by someone else before the vacuum gives up on it. */
const lockTimeout = '60s';

/** How often the progress of the statement running is read. */
const pollMs = 500;

/** SQLSTATE of a table dropped between the listing and its turn. */
const undefinedTable = '42P01';

/** SQLSTATE of lock_timeout. */
const lockNotAvailable = '55P03';

/** A session of the manager's role of the instance (its role is SET later, where needed). */
function connect(connection: InstanceConnection): Promise<pg.Client> {
  const { host, port, user, password, database } = connection;
  return connectClient({ host, port, user, password, database });
}

/** Vacuums instances' databases; see {@link Vacuumer.run}. */
export class Vacuumer {
  readonly #registry: InstanceRegistry;
  readonly #meter: UsageMeter;

  constructor(registry: InstanceRegistry, meter: UsageMeter) {
    this.#registry = registry;
    this.#meter = meter;
  }

  /**
   * Vacuums the instance's database as the instance's role (the manager's role of the
   * instance logs in and SETs ROLE to it: the database's owner, who owns what the app made),
   * after every operation queued on the instance before; its progress is in the instance's
   * view meanwhile. `full`: VACUUM FULL (each table rewritten: it needs room for a copy of the
   * table, and blocks the app's use of it meanwhile) and then REINDEX DATABASE. A table that
   * stays locked for 60 s fails it with VACUUM_FAILED; what was vacuumed stays vacuumed.
   * Recorded as an event either way.
   */
  async run(id: string, full: boolean): Promise<VacuumResult> {
    const registry = this.#registry;
    const live = registry.get(id);
    const progress: VacuumProgress = {
      full,
      phase: 'waiting',
      done: 0,
      tables: 0,
      table: null,
      step: null,
      blocksDone: null,
      blocksTotal: null,
      startedAt: new Date().toISOString(),
    };
    // A second vacuum asked meanwhile waits behind the first; the view shows the first.
    if (!registry.vacuums.has(id)) registry.vacuums.set(id, progress);
    const what = full ? 'VACUUM FULL' : 'VACUUM';
    try {
      const result = await registry.explained(`vacuuming ${id}`, () =>
        registry.queue.run(id, async () => {
          // Deleted (or made again) while it waited: INSTANCE_NOT_FOUND.
          if (registry.get(id) !== live) throw new AppvisorError('INSTANCE_NOT_FOUND');
          registry.vacuums.set(id, progress);
          return this.#vacuum(live.row, progress);
        }),
      );
      registry.options.events.record({
        kind: 'instance.vacuumed',
        severity: 'info',
        subject: id,
        text: `${what} of instance ${id}: ${result.tables} tables in ${result.seconds} s, database ${sizeText(result.databaseBytesBefore)} → ${sizeText(result.databaseBytesAfter)}`,
      });
      return result;
    } catch (error) {
      if (!(error instanceof AppvisorError && error.code === 'INSTANCE_NOT_FOUND')) {
        registry.options.events.record({
          kind: 'instance.vacuum-failed',
          severity: 'warning',
          subject: id,
          text: `${what} of instance ${id} failed: ${(error as Error).message}`,
        });
      }
      throw error;
    } finally {
      if (registry.vacuums.get(id) === progress) registry.vacuums.delete(id);
    }
  }

  async #vacuum(row: Row, progress: VacuumProgress): Promise<VacuumResult> {
    const { options } = this.#registry;
    const started = Date.now();
    // As before a backup: the manager's role of the instance is there and may SET ROLE to it.
    await options.database.resetRoles([databaseOf(options, row)]);
    const before = (await options.database.sizes([row.db_name])).get(row.db_name) ?? null;
    const connection = connectionOf(options, row);
    const skipped: string[] = [];
    let client: pg.Client | undefined;
    let watcher: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      client = await connect(connection);
      await client.query(`SET ROLE ${client.escapeIdentifier(connection.role)}`);
      await client.query(`SET lock_timeout = '${lockTimeout}'`);
      const tables = (await client.query<{ name: string }>(tablesSql)).rows.map((r) => r.name);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid;
      progress.phase = 'vacuum';
      progress.tables = tables.length;
      await this.#registry.pause('vacuum.tables');
      // The manager's role sees the progress of its own sessions (not as the instance's role).
      watcher = await connect(connection).catch(() => undefined);
      if (watcher) timer = this.#watch(watcher, pid, progress);
      for (const table of tables) {
        Object.assign(progress, { table, step: null, blocksDone: null, blocksTotal: null });
        await client
          .query(`VACUUM (${progress.full ? 'FULL, ' : ''}ANALYZE) ${table}`)
          .catch((error: unknown) => {
            if ((error as { code?: string }).code !== undefinedTable) throw error;
            skipped.push(table);
          });
        progress.done++;
      }
      if (progress.full) {
        Object.assign(progress, { phase: 'reindex', table: null, step: null });
        Object.assign(progress, { blocksDone: null, blocksTotal: null });
        await client.query(`REINDEX DATABASE ${client.escapeIdentifier(row.db_name)}`);
      }
    } catch (error) {
      throw failure(error, progress);
    } finally {
      if (timer) clearInterval(timer);
      await client?.end().catch(() => undefined);
      await watcher?.end().catch(() => undefined);
    }
    const usage = await this.#meter
      .measure(row.id)
      .catch(() => this.#registry.usage.get(row.id) ?? unmeasured);
    return {
      id: row.id,
      full: progress.full,
      tables: progress.done - skipped.length,
      skipped,
      databaseBytesBefore: before,
      databaseBytesAfter: usage.databaseBytes,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      usage,
    };
  }

  /** Reads PostgreSQL's progress of the statement running into `progress`, every 500 ms. */
  #watch(watcher: pg.Client, pid: number, progress: VacuumProgress): NodeJS.Timeout {
    let reading = false;
    return setInterval(() => {
      if (reading) return;
      reading = true;
      const table = progress.table;
      const sql =
        progress.phase === 'reindex'
          ? progressSql.reindex
          : progress.full
            ? progressSql.full
            : progressSql.vacuum;
      watcher
        .query<{
          phase: string;
          done: string | null;
          total: string | null;
          relation: string | null;
        }>(sql, [pid])
        .then(
          (answer) => {
            const found = answer.rows[0];
            // The statement it read may have ended meanwhile: nothing is shown for the next.
            if (!found || progress.table !== table) return;
            progress.step = found.phase;
            progress.blocksDone = found.done === null ? null : Number(found.done);
            progress.blocksTotal = found.total === null ? null : Number(found.total);
            if (progress.phase === 'reindex') progress.table = found.relation;
          },
          () => undefined,
        )
        .finally(() => {
          reading = false;
        });
    }, pollMs);
  }
}

/** A size for an event's text. */
function sizeText(value: number | null): string {
  return value === null ? 'unknown' : bytes(value);
}

/** What a failed vacuum rejects with: the database's unavailability and a full disk as they are. */
function failure(error: unknown, progress: VacuumProgress): unknown {
  const mapped = databaseError(error);
  if (mapped instanceof AppvisorError || isDiskFull(error)) return mapped;
  const code = (error as { code?: string }).code;
  const where = progress.table ? ` at ${progress.table}` : '';
  const message =
    code === lockNotAvailable
      ? `${progress.table ?? 'a table'} stayed locked by another session for ${lockTimeout}; run the vacuum again when the app is quieter (the tables before it are vacuumed)`
      : `the vacuum stopped${where}: ${(error as Error).message}`;
  return new AppvisorError('VACUUM_FAILED', message, { cause: error });
}
