import { createHash } from 'node:crypto';
import type pg from 'pg';
import { connectClient } from '../../lib/pg-clients.js';
import { AppvisorError } from '../errors/index.js';
import { databaseError } from './errors.js';
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

/**
 * The manager's own role for an instance's database: `m_<id>` beside the instance's `i_<id>`.
 * It logs in with a password only the manager knows, owns nothing, inherits nothing and is a
 * member of the instance's role only to `SET ROLE` to it: backups and restores act as the
 * instance's role without depending on that role's password, which the role itself can change.
 */
export function instanceAccessRole(name: string): string {
  return `m_${name.slice(2)}`;
}

/** Connections the manager's role of an instance may hold (a backup and a restore at once). */
const accessConnectionLimit = 4;

/** What an instance's database needs. */
export interface InstanceDatabase {
  /** Role and database name (the same). */
  name: string;
  password: string;
  /** Connections the role may hold at once. */
  connectionLimit: number;
  /** Password of the manager's role of the instance ({@link instanceAccessRole}). */
  accessPassword: string;
}

/**
 * Creates the role with `attributes` and `settings`, or gives an existing one those: all of
 * them for a superuser; an admin that is not one may only change `settings` (PostgreSQL refuses
 * it SUPERUSER, REPLICATION and BYPASSRLS even to turn them off; it can never have given them).
 */
async function ensureRole(
  client: pg.Client,
  name: string,
  attributes: string,
  settings: string,
  superuser: boolean,
): Promise<void> {
  const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  if (role.rowCount === 0) {
    try {
      await client.query(`CREATE ROLE ${ident(name)} ${attributes} ${settings}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '42710') throw error; // made meanwhile
    }
  }
  await client.query(`ALTER ROLE ${ident(name)} ${superuser ? `${attributes} ` : ''}${settings}`);
}

/**
 * The instance's role as the manager made it: its password and connection limit set again
 * (the role can change its own password; this undoes that), and the manager's role of the
 * instance, a member of it. Run before the instance starts in its service.
 */
async function ensureRoles(client: pg.Client, db: InstanceDatabase): Promise<void> {
  const me = await client.query<{ rolsuper: boolean }>(
    'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
  );
  const superuser = me.rows[0]?.rolsuper !== false;
  const attributes = 'NOSUPERUSER NOREPLICATION NOBYPASSRLS';
  const common = 'LOGIN NOCREATEDB NOCREATEROLE NOINHERIT';
  await ensureRole(
    client,
    db.name,
    attributes,
    `${common} CONNECTION LIMIT ${db.connectionLimit} PASSWORD ${literal(db.password)}`,
    superuser,
  );
  if (!superuser) await grantSelfSet(client, db.name);
  const access = instanceAccessRole(db.name);
  await ensureRole(
    client,
    access,
    attributes,
    `${common} CONNECTION LIMIT ${accessConnectionLimit} PASSWORD ${literal(db.accessPassword)}`,
    superuser,
  );
  // Membership without inheritance: the manager's role has the instance role's rights only
  // after SET ROLE. (The role granted cannot revoke it: it has no ADMIN OPTION on itself.)
  await client.query(`GRANT ${ident(db.name)} TO ${ident(access)}`);
}

/**
 * An admin role that is not a superuser (an external server) may make a database owned by the
 * role only when it may SET ROLE to it, and rename or drop that database only when it has the
 * role's privileges (PostgreSQL 16 and later); a role it created gives it ADMIN OPTION only. So
 * it grants the role to itself.
 */
async function grantSelfSet(client: pg.Client, role: string): Promise<void> {
  const version = await client.query<{ v: string }>(
    "SELECT current_setting('server_version_num') AS v",
  );
  await client.query(
    Number(version.rows[0]?.v) >= 160000
      ? `GRANT ${ident(role)} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE`
      : `GRANT ${ident(role)} TO CURRENT_USER`,
  );
}

/**
 * Lets the instance's role and the manager's role of it connect to `database`, nobody else.
 * An admin that does not hold the owner's rights (a membership without INHERIT on an external
 * server) gets only a warning from PostgreSQL for each statement, no error: so the result is
 * read back, and a database PUBLIC may still connect to fails with `DATABASE_PRIVILEGES`.
 */
async function grantConnect(client: pg.Client, database: string, role: string): Promise<void> {
  await client.query(`REVOKE ALL ON DATABASE ${ident(database)} FROM PUBLIC`);
  await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(database)} TO ${ident(role)}`);
  await client.query(
    `GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(instanceAccessRole(role))}`,
  );
  const acl = await client.query<{ open: boolean; granted: boolean }>(
    `SELECT datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0) AS open,
            has_database_privilege($2, datname, 'CONNECT') AS granted
       FROM pg_database WHERE datname = $1`,
    [database, role],
  );
  const row = acl.rows[0];
  if (row && (row.open || !row.granted)) {
    throw new AppvisorError(
      'DATABASE_PRIVILEGES',
      `the privileges of database "${database}" could not be set (PUBLIC ${row.open ? 'may still' : 'may not'} connect, its role ${row.granted ? 'may' : 'may not'}): the manager's role does not hold the rights of the role "${role}" that owns it`,
    );
  }
}

/**
 * Sets the instance's role back as {@link ensureInstanceDatabase} made it (password, limits,
 * the manager's role), for several instances over one connection; the database is not touched.
 */
export async function resetInstanceRoles(
  server: DatabaseServer,
  dbs: readonly InstanceDatabase[],
): Promise<void> {
  if (dbs.length === 0) return;
  await withAdmin(server, async (client) => {
    for (const db of dbs) {
      await ensureRoles(client, db);
      const database = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        db.name,
      ]);
      if (database.rowCount !== 0) await grantConnect(client, db.name, db.name);
    }
  });
}

/**
 * Runs `fn` on a connection of the admin role to the `postgres` database (only queries: a
 * lost connection rejects with `DATABASE_UNAVAILABLE`).
 */
export async function withAdmin<T>(
  server: DatabaseServer,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  let client: pg.Client;
  try {
    client = await connectClient(server.adminConfig('postgres'));
  } catch (error) {
    throw databaseError(error);
  }
  try {
    return await fn(client);
  } catch (error) {
    throw databaseError(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Makes the instance's role and database, or finishes making them: every step checks first, so
 * it can run again after a crash at any point. The role logs in with its password (SCRAM), may
 * hold `connectionLimit` connections, owns its database and nothing else; nobody but it and the
 * manager's role of it ({@link instanceAccessRole}) may connect to the database (REVOKE CONNECT
 * FROM PUBLIC).
 */
export async function ensureInstanceDatabase(
  server: DatabaseServer,
  db: InstanceDatabase,
): Promise<void> {
  await withAdmin(server, async (client) => {
    await ensureRoles(client, db);
    const database = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
    if (database.rowCount === 0) {
      // FILE_COPY copies template1's files instead of WAL-logging every block: much faster for
      // the many small databases a platform holds.
      await client.query(
        `CREATE DATABASE ${ident(db.name)} OWNER ${ident(db.name)} STRATEGY FILE_COPY`,
      );
    }
    await grantConnect(client, db.name, db.name);
  });
}

/**
 * Drops the instance's database (ending its sessions), every other database its role owns (a
 * restore's staging database: the role cannot create one itself) and its roles; missing ones
 * are fine.
 */
export async function dropInstanceDatabase(server: DatabaseServer, name: string): Promise<void> {
  await withAdmin(server, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    const owned = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = $1',
      [name],
    );
    for (const { datname } of owned.rows) {
      await client.query(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`);
    }
    await client.query(`DROP ROLE IF EXISTS ${ident(instanceAccessRole(name))}`);
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
    await grantConnect(client, name, role);
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

/** Whether a database of that name exists on the server. */
export async function databaseExists(server: DatabaseServer, name: string): Promise<boolean> {
  return withAdmin(server, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return found.rowCount !== 0;
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
 * names carry `tag` (other managers sharing an external server use other tags), except those
 * in `keep`.
 */
export async function dropLeftoverDatabases(
  server: DatabaseServer,
  tag: string,
  keep: readonly string[] = [],
): Promise<string[]> {
  return withAdmin(server, async (client) => {
    const found = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database
        WHERE (starts_with(datname, $1) OR starts_with(datname, $2)) AND NOT datname = ANY($3)`,
      [`${stagingPrefix}${tag}_`, `${retiredPrefix}${tag}_`, keep],
    );
    for (const { datname } of found.rows) {
      await client.query(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`);
    }
    return found.rows.map((row) => row.datname);
  });
}
