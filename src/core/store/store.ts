import pg from 'pg';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { connectClient, withPoolClient } from '../../lib/pg-clients.js';
import { databaseError, type DatabaseServer } from '../database/index.js';
import { AppvisorError } from '../errors/index.js';
import { migrations as allMigrations, type Migration } from './migrations.js';

/** Name of the store database on the server. */
export const storeDatabase = 'appvisor';
/** Advisory lock key that serializes migrations between managers sharing a store. */
const migrationLock = 0x61707076; // "appv"

/** Options of {@link Store}. */
export interface StoreOptions {
  database: DatabaseServer;
  logger: Logger;
  /** Overrides the migrations (tests); defaults to the built-in list. */
  migrations?: readonly Migration[];
  /** Pool size; the store is small and most work is short. */
  maxConnections?: number;
}

/** A query function, the same on the pool and inside a transaction. */
export type Query = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values?: unknown[],
) => Promise<pg.QueryResult<R>>;

/**
 * The manager's own state: the PostgreSQL database `appvisor`, created when missing and
 * brought to the newest schema with ordered migrations. A store written by a newer appvisor
 * is refused rather than misread.
 */
export class Store implements Component {
  readonly name = 'store';
  readonly #options: StoreOptions;
  #pool: pg.Pool | undefined;
  #schemaVersion = 0;

  constructor(options: StoreOptions) {
    this.#options = options;
  }

  /** The schema version the store is at. */
  get schemaVersion(): number {
    return this.#schemaVersion;
  }

  async start(): Promise<void> {
    await this.#ensureDatabase();
    // On an external server the pool holds no session without need: a connection idle for 2 s
    // is closed, and one in steady use is replaced after 20 s, so that a smart shutdown of that
    // server (which waits for every session to end) ends even while the manager works. The
    // embedded server is the manager's own (stopped by it, fast): there connections are kept.
    const external = this.#options.database.mode === 'external';
    const pool = new pg.Pool({
      ...this.#options.database.adminConfig(storeDatabase),
      max: this.#options.maxConnections ?? 10,
      idleTimeoutMillis: external ? 2_000 : 30_000,
      maxLifetimeSeconds: external ? 20 : 0,
      connectionTimeoutMillis: 5_000,
    });
    // An idle client loses its server when the database restarts: log it, the pool replaces it.
    pool.on('error', (error) => {
      this.#options.logger.warn({ err: error }, 'a store connection was lost');
    });
    this.#pool = pool;
    try {
      await this.#migrate();
    } catch (error) {
      await pool.end().catch(() => undefined);
      this.#pool = undefined;
      throw error;
    }
  }

  async #ensureDatabase(): Promise<void> {
    const client = await connectClient(this.#options.database.adminConfig('postgres'));
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        storeDatabase,
      ]);
      if (found.rowCount === 0) {
        try {
          await client.query(`CREATE DATABASE ${storeDatabase}`);
          await client.query(`REVOKE ALL ON DATABASE ${storeDatabase} FROM PUBLIC`);
        } catch (error) {
          // Another manager sharing the server created it first.
          if ((error as { code?: string }).code !== '42P04') throw error;
        }
      }
    } finally {
      await client.end();
    }
  }

  async #migrate(): Promise<void> {
    const migrations = [...(this.#options.migrations ?? allMigrations)].sort(
      (a, b) => a.version - b.version,
    );
    const newest = migrations.at(-1)?.version ?? 0;
    await withPoolClient(this.pool, async (client) => {
      try {
        await client.query('SELECT pg_advisory_lock($1)', [migrationLock]);
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
        const applied = await client.query<{ version: number }>(
          'SELECT version FROM schema_migrations ORDER BY version',
        );
        const done = new Set(applied.rows.map((row) => row.version));
        const highest = applied.rows.at(-1)?.version ?? 0;
        if (highest > newest) {
          throw new AppvisorError(
            'STORE_TOO_NEW',
            `the store is at schema version ${highest}, this appvisor knows up to ${newest}; run a newer appvisor`,
          );
        }
        for (const migration of migrations) {
          if (done.has(migration.version)) continue;
          this.#options.logger.info(
            { version: migration.version, name: migration.name },
            'migrating the store',
          );
          await client.query('BEGIN');
          try {
            await client.query(migration.sql);
            await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
              migration.version,
              migration.name,
            ]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK');
            throw new Error(
              `store migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`,
              {
                cause: error,
              },
            );
          }
        }
        this.#schemaVersion = Math.max(highest, newest);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [migrationLock]).catch(() => undefined);
      }
    });
  }

  /** The connection pool; only valid between start and close. */
  get pool(): pg.Pool {
    if (!this.#pool) throw new AppvisorError('STARTING', 'the store is not open');
    return this.#pool;
  }

  /**
   * Runs one statement on a pooled connection. A connection that cannot be made or breaks
   * (the server is down or restarting) rejects with `DATABASE_UNAVAILABLE`.
   */
  readonly query: Query = async (text, values) => {
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      throw databaseError(error);
    }
  };

  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. A
   * connection that cannot be made or breaks rejects with `DATABASE_UNAVAILABLE` (the
   * transaction is then rolled back by the server, or was never begun).
   */
  async transaction<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    // Errors of `fn` pass as they are (a file error inside it is no database error); only a
    // failed checkout is mapped out here.
    const state = { checkedOut: false };
    try {
      return await withPoolClient(this.pool, async (client) => {
        state.checkedOut = true;
        const query: Query = async (text, values) => {
          try {
            return await client.query(text, values);
          } catch (error) {
            throw databaseError(error);
          }
        };
        try {
          await query('BEGIN');
          const result = await fn(query);
          await query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      throw state.checkedOut ? error : databaseError(error);
    }
  }

  readonly close = once(async () => {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  });

  destroy(): void {
    const pool = this.#pool;
    this.#pool = undefined;
    void pool?.end().catch(() => undefined);
  }
}
