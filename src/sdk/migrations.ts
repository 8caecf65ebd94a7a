import type pg from 'pg';
import type { Instance } from './instance.js';

/**
 * One step of an instance database's schema. Versions start at 1 and rise by one; each is
 * applied once per instance, in order, before `start`.
 */
export interface Migration {
  /** 1, 2, 3…: its place in the order, and what the version table records. */
  version: number;
  /** A short name for logs and errors (`add-priority`). */
  name?: string;
  /**
   * SQL text (several statements are fine), or a function given the transaction's client (use
   * it, not `instance.db`: only its queries are part of the migration).
   */
  up: string | ((client: pg.PoolClient, instance: Instance) => Promise<void>);
}

/** What a run of the migrations did to one instance's database. */
export interface MigrationResult {
  /** The schema version before, 0 for a database no migration ran on. */
  from: number;
  /** The version now. */
  to: number;
  /** The versions applied this time, in order (empty: it was up to date). */
  applied: number[];
  milliseconds: number;
}

/**
 * The table that records which migrations ran, in the instance's own database (so a backup
 * carries its schema version with its data and a restore brings both back).
 */
export const migrationsTable = 'appvisor_migrations';

/**
 * Advisory lock key taken for the run (advisory locks are per database, so one key serves
 * every instance): two starts of one instance never migrate at once.
 */
const lockKey = 0x61707676; // 'appv'

/** A migration that failed, or a database newer than the app's migrations. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Checks the list an app gives {@link createService}: versions 1, 2, 3… in order, each with
 * an `up`. A mistake here is the app's bug, thrown at once rather than at an instance's start.
 */
export function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1)
      throw new TypeError(
        `migrations[${index}] has version ${String(migration.version)}: versions are 1, 2, 3… in order`,
      );
    if (typeof migration.up !== 'string' && typeof migration.up !== 'function')
      throw new TypeError(`migration ${migration.version} has no up (SQL text or a function)`);
  });
}

function label(migration: Migration): string {
  return migration.name ? `${migration.version} (${migration.name})` : String(migration.version);
}

/**
 * Brings the instance's database to the latest version in one transaction: all pending
 * migrations and their records commit together, or none does (PostgreSQL's DDL is
 * transactional), so a failure leaves the database as it was.
 */
export async function migrate(
  instance: Instance,
  migrations: readonly Migration[],
  now: () => number = () => performance.now(),
): Promise<MigrationResult> {
  const started = now();
  const latest = migrations.length;
  const client = await instance.db.connect();
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [lockKey]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${migrationsTable} (
         version integer PRIMARY KEY,
         name text NOT NULL DEFAULT '',
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0)::integer AS version FROM ${migrationsTable}`,
    );
    const from = rows[0]?.version ?? 0;
    if (from > latest)
      throw new MigrationError(
        `the database is at schema version ${from}, newer than this app's latest migration ${latest} (an older version of the app on newer data)`,
      );
    const applied: number[] = [];
    for (const migration of migrations.slice(from)) {
      instance.trace('database', `migration ${label(migration)}`);
      try {
        if (typeof migration.up === 'string') await client.query(migration.up);
        else await migration.up(client, instance);
      } catch (error) {
        throw new MigrationError(
          `migration ${label(migration)} failed: ${error instanceof Error ? error.message : String(error)}`,
          {
            cause: error,
          },
        );
      }
      await client.query(`INSERT INTO ${migrationsTable} (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name ?? '',
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, latest), applied, milliseconds: Math.round(now() - started) };
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // A client whose transaction could not even roll back is not given back to the pool.
    client.release(failed instanceof MigrationError ? undefined : (failed as Error | undefined));
  }
}
