import type pg from 'pg';
import { AppvisorError } from '../errors/index.js';

/** The oldest server the manager works with (`CREATE DATABASE ... STRATEGY` came in 15). */
export const minimumServerVersion = 150000;

/** What the manager's role on an external server is and may do, as the server says. */
export interface RoleFacts {
  role: string;
  /** `server_version_num`, e.g. 180001. */
  versionNum: number;
  /** `server_version`, e.g. `18.1`. */
  version: string;
  superuser: boolean;
  createdb: boolean;
  createrole: boolean;
  inherit: boolean;
  /** `createrole_self_grant` (16 and later; null before). */
  selfGrant: string | null;
}

/** Quotes an SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Reads {@link RoleFacts} over a connection of the role. */
export async function readRoleFacts(client: pg.Client): Promise<RoleFacts> {
  const found = await client.query<{
    role: string;
    num: string;
    version: string;
    rolsuper: boolean;
    rolcreatedb: boolean;
    rolcreaterole: boolean;
    rolinherit: boolean;
    self_grant: string | null;
  }>(
    `SELECT current_user AS role, current_setting('server_version_num') AS num,
            current_setting('server_version') AS version,
            r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolinherit,
            current_setting('createrole_self_grant', true) AS self_grant
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = found.rows[0];
  if (!row) throw new Error('the server does not list the role the manager logged in as');
  return {
    role: row.role,
    versionNum: Number(row.num),
    version: row.version,
    superuser: row.rolsuper,
    createdb: row.rolcreatedb,
    createrole: row.rolcreaterole,
    inherit: row.rolinherit,
    selfGrant: row.self_grant,
  };
}

/**
 * What the role lacks to run instances, as one sentence with the statement that gives it, or
 * null when it lacks nothing. A superuser may do everything. Otherwise it needs CREATEDB (the
 * store and instance databases) and CREATEROLE (instance roles); it grants each role it makes
 * to itself (provision.ts), and on PostgreSQL 14 and 15 such a grant gives the role's rights
 * only to a role with INHERIT (from 16 on the grant says INHERIT TRUE itself).
 */
export function missingPrivileges(facts: RoleFacts): string | null {
  if (facts.versionNum < minimumServerVersion) {
    return `the server runs PostgreSQL ${facts.version}; appvisor needs ${minimumServerVersion / 10000} or later`;
  }
  if (facts.superuser) return null;
  const missing = [
    ...(facts.createdb ? [] : ['CREATEDB']),
    ...(facts.createrole ? [] : ['CREATEROLE']),
    ...(facts.inherit || facts.versionNum >= 160000 ? [] : ['INHERIT']),
  ];
  if (missing.length === 0) return null;
  return `the role "${facts.role}" lacks ${missing.join(', ')}; as a superuser run: ALTER ROLE ${ident(facts.role)} ${missing.join(' ')}`;
}

/** Throws `DATABASE_PRIVILEGES` when {@link missingPrivileges} finds something missing. */
export function checkPrivileges(facts: RoleFacts): void {
  const missing = missingPrivileges(facts);
  if (missing) throw new AppvisorError('DATABASE_PRIVILEGES', missing);
}

/** The server's shared databases instance roles must not connect to. */
const sharedDatabases = ['postgres', 'template1'];

/** Which of the shared databases let PUBLIC connect (no ACL at all means the default: yes). */
async function publicDatabases(client: pg.Client): Promise<string[]> {
  const found = await client.query<{ datname: string }>(
    `SELECT datname FROM pg_database
      WHERE datname = ANY($1)
        AND (datacl IS NULL OR EXISTS (
              SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT'))
      ORDER BY datname`,
    [sharedDatabases],
  );
  return found.rows.map((row) => row.datname);
}

/**
 * Closes the shared databases (`postgres`, `template1`) to PUBLIC, so that instance roles
 * cannot connect to them: done when the role may (it owns them, or is a superuser). Returns the
 * statements an operator must run for what stays open (empty when nothing does). The manager's
 * own role keeps CONNECT on `postgres`, where it works.
 */
export async function closeSharedDatabases(client: pg.Client, role: string): Promise<string[]> {
  for (const name of await publicDatabases(client)) {
    // A role that may not revoke gets a warning from PostgreSQL, no error: checked below.
    await client.query(`GRANT CONNECT ON DATABASE ${ident(name)} TO CURRENT_USER`).catch(() => {
      // Only the owner (or a superuser) may grant; then the REVOKE does nothing either.
    });
    await client.query(`REVOKE CONNECT ON DATABASE ${ident(name)} FROM PUBLIC`).catch(() => {
      // Reported below with the statements to run.
    });
  }
  const open = await publicDatabases(client);
  return open.flatMap((name) => [
    ...(name === 'postgres' ? [`GRANT CONNECT ON DATABASE postgres TO ${ident(role)};`] : []),
    `REVOKE CONNECT ON DATABASE ${ident(name)} FROM PUBLIC;`,
  ]);
}
