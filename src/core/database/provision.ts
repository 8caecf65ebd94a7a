import { createHash } from 'node:crypto';
import pg from 'pg';
import type { DatabaseServer } from './types.js';

/** Quotes an SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal (for statements that take no parameters, like ALTER ROLE). */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The role and database name of an instance: `i_<id>` (case kept, quoted in SQL), shortened
 * with a hash when it would pass PostgreSQL's 63-byte identifier limit.
 */
export function instanceDatabaseName(id: string): string {
  const name = `i_${id}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 10);
  return `i_${id.slice(0, 50)}_${hash}`;
}

/** What an instance's database needs. */
export interface InstanceDatabase {
  /** Role and database name (the same). */
  name: string;
  password: string;
  /** Connections the role may hold at once. */
  connectionLimit: number;
}

async function withAdmin<T>(
  server: DatabaseServer,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client(server.adminConfig('postgres'));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Makes the instance's role and database, or finishes making them: every step checks first, so
 * it can run again after a crash at any point. The role logs in with its password (SCRAM), may
 * hold `connectionLimit` connections, owns its database and nothing else; nobody else may
 * connect to the database (REVOKE CONNECT FROM PUBLIC).
 */
export async function ensureInstanceDatabase(
  server: DatabaseServer,
  db: InstanceDatabase,
): Promise<void> {
  await withAdmin(server, async (client) => {
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [db.name]);
    const options = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${db.connectionLimit} PASSWORD ${literal(db.password)}`;
    if (role.rowCount === 0) {
      try {
        await client.query(`CREATE ROLE ${ident(db.name)} ${options}`);
      } catch (error) {
        if ((error as { code?: string }).code !== '42710') throw error; // made meanwhile
        await client.query(`ALTER ROLE ${ident(db.name)} ${options}`);
      }
    } else {
      await client.query(`ALTER ROLE ${ident(db.name)} ${options}`);
    }
    const database = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
    if (database.rowCount === 0) {
      // FILE_COPY copies template1's files instead of WAL-logging every block: much faster for
      // the many small databases a platform holds.
      await client.query(
        `CREATE DATABASE ${ident(db.name)} OWNER ${ident(db.name)} STRATEGY FILE_COPY`,
      );
    }
    await client.query(`REVOKE ALL ON DATABASE ${ident(db.name)} FROM PUBLIC`);
    await client.query(
      `GRANT CONNECT, TEMPORARY ON DATABASE ${ident(db.name)} TO ${ident(db.name)}`,
    );
  });
}

/** Drops the instance's database (ending its sessions) and role; missing ones are fine. */
export async function dropInstanceDatabase(server: DatabaseServer, name: string): Promise<void> {
  await withAdmin(server, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    await client.query(`DROP ROLE IF EXISTS ${ident(name)}`);
  });
}

/**
 * Makes the server's shared databases private: instance roles must not connect to the
 * maintenance databases either. Only for the embedded server, which the manager owns.
 */
export async function lockDownServer(server: DatabaseServer): Promise<void> {
  await withAdmin(server, async (client) => {
    await client.query('REVOKE CONNECT ON DATABASE postgres FROM PUBLIC');
    await client.query('REVOKE CONNECT ON DATABASE template1 FROM PUBLIC');
  });
}

/** Names of databases a restore makes beside the live one; left-overs are dropped at start. */
export const stagingPrefix = 'av_restore_';
export const retiredPrefix = 'av_old_';

/**
 * Makes an empty database owned by `role`, for a restore to fill beside the live one: from
 * template0 (what a dump expects), private like an instance database.
 */
export async function createStagingDatabase(
  server: DatabaseServer,
  name: string,
  role: string,
): Promise<void> {
  await withAdmin(server, async (client) => {
    await client.query(
      `CREATE DATABASE ${ident(name)} OWNER ${ident(role)} TEMPLATE template0 ENCODING 'UTF8' STRATEGY FILE_COPY`,
    );
    await client.query(`REVOKE ALL ON DATABASE ${ident(name)} FROM PUBLIC`);
    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(name)} TO ${ident(role)}`);
  });
}

/**
 * Puts `staging` in the place of `live` in one transaction (the live one is renamed to
 * `retired`), after ending every session on both; then drops the retired one. A crash leaves
 * either the old or the new database under the live name, never none.
 */
export async function swapDatabases(
  server: DatabaseServer,
  live: string,
  staging: string,
  retired: string,
): Promise<void> {
  await withAdmin(server, async (client) => {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
      [[live, staging]],
    );
    await client.query('BEGIN');
    try {
      await client.query(`ALTER DATABASE ${ident(live)} RENAME TO ${ident(retired)}`);
      await client.query(`ALTER DATABASE ${ident(staging)} RENAME TO ${ident(live)}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await client.query(`DROP DATABASE IF EXISTS ${ident(retired)} WITH (FORCE)`);
  });
}

/** Drops a database if it exists, ending its sessions. */
export async function dropDatabase(server: DatabaseServer, name: string): Promise<void> {
  await withAdmin(server, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  });
}

/**
 * Drops what interrupted restores of this manager left: staging and retired databases whose
 * names carry `tag` (other managers sharing an external server use other tags).
 */
export async function dropLeftoverDatabases(
  server: DatabaseServer,
  tag: string,
): Promise<string[]> {
  return withAdmin(server, async (client) => {
    const found = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1) OR starts_with(datname, $2)',
      [`${stagingPrefix}${tag}_`, `${retiredPrefix}${tag}_`],
    );
    for (const { datname } of found.rows) {
      await client.query(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`);
    }
    return found.rows.map((row) => row.datname);
  });
}
