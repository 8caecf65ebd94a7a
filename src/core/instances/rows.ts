/**
 * What an instance's row stands for: its data folder, its database and roles, the connection
 * the manager uses, the instance object of the service protocol, and the store's refusals.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureFolder } from '../../lib/safe-fs.js';
import type { InstanceInfo } from '../../lib/service-protocol.js';
import { instanceAccessRole, type InstanceDatabase } from '../database/index.js';
import { AppvisorError } from '../errors/index.js';
import type { InstanceConnection, InstanceServiceOptions, Row } from './model.js';
import { normalizeDomain } from './validation.js';

/** What the row helpers read of the options. */
type RowOptions = Pick<
  InstanceServiceOptions,
  'apps' | 'secrets' | 'connectionLimit' | 'database' | 'logger'
>;

/** The instance's data folder, in its app's folder. */
export function dataDirOf(options: RowOptions, row: Pick<Row, 'app' | 'id'>): string {
  return join(options.apps.dataFolder(row.app), row.id);
}

/** The password of the manager's role of the instance: derived from the secret key. */
export function accessPasswordOf(options: RowOptions, row: Row): string {
  return options.secrets.derive(`instance-access:${row.db_name}`);
}

/** What the instance's database and roles must be. */
export function databaseOf(options: RowOptions, row: Row): InstanceDatabase {
  return {
    name: row.db_name,
    password: options.secrets.open(row.db_password_sealed),
    connectionLimit: options.connectionLimit,
    accessPassword: accessPasswordOf(options, row),
  };
}

/** How the manager reaches `database` (the instance's own by default) as the instance's role. */
export function connectionOf(
  options: RowOptions,
  row: Row,
  database = row.db_name,
): InstanceConnection {
  const info = options.database.endpoint();
  return {
    host: info.host,
    port: info.port,
    user: instanceAccessRole(row.db_name),
    password: accessPasswordOf(options, row),
    database,
    role: row.db_name,
  };
}

/** The instance object of the protocol, with its credentials. */
export function describeRow(options: RowOptions, row: Row): InstanceInfo {
  const info = options.database.endpoint();
  const user = row.db_name;
  const password = options.secrets.open(row.db_password_sealed);
  return {
    id: row.id,
    app: row.app,
    domain: row.domain,
    path: row.path,
    password: options.secrets.open(row.password_sealed),
    enabled: row.enabled,
    traceFlags: [...row.trace_flags],
    dataDir: dataDirOf(options, row),
    database: {
      host: info.host,
      port: info.port,
      database: row.db_name,
      user,
      password,
      url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${info.host}:${info.port}/${encodeURIComponent(row.db_name)}`,
    },
  };
}

/**
 * The instance's data folder: 0700, owned by the app's user. It lies in the app's folder,
 * which the app's user can change, so it is changed through a descriptor opened without
 * following links: a link in its place is refused, its target untouched (safe-fs).
 */
export async function prepareFolder(options: RowOptions, row: Row): Promise<void> {
  const folder = dataDirOf(options, row);
  await mkdir(dirname(folder), { recursive: true, mode: 0o700 });
  await ensureFolder(folder, 0o700, options.apps.ownerOf(row.app));
}

/**
 * Sets the instances' roles back as the manager made them: the password the instance is
 * given (the role may have changed it), its limits, and the manager's role of it. Failures
 * are logged: the instances start anyway.
 */
export async function resetRoles(options: RowOptions, rows: readonly Row[]): Promise<void> {
  await options.database
    .resetRoles(rows.map((row) => databaseOf(options, row)))
    .catch((error: unknown) => {
      options.logger.warn(
        { err: error, instances: rows.map((row) => row.id) },
        'cannot reset the roles of instances',
      );
    });
}

/** Every secret of the instance (its password, its role's, the manager's role's). */
export function secretsOfRow(options: RowOptions, row: Row): string[] {
  return [
    options.secrets.open(row.password_sealed),
    options.secrets.open(row.db_password_sealed),
    accessPasswordOf(options, row),
  ];
}

/**
 * The answer to a change of an instance another node owns now (a takeover or a move since
 * this node loaded it): nothing was changed here.
 */
export function movedAway(id: string): AppvisorError {
  return new AppvisorError(
    'INSTANCE_MOVED',
    `instance ${id} is owned by another node now; nothing was changed here, try again`,
  );
}

/** The store's refusal of a row (a unique key taken) as the error the client gets. */
export function uniqueViolation(error: unknown, id: string, path: string): unknown {
  const { code, constraint } = error as { code?: string; constraint?: string };
  if (code !== '23505') return error;
  if (constraint === 'instances_pkey')
    return new AppvisorError('INSTANCE_EXISTS', `an instance "${id}" exists already`, {
      field: 'id',
    });
  if (constraint === 'instances_path_key')
    return new AppvisorError('PATH_TAKEN', `the path ${path} is taken by another instance`, {
      field: 'path',
    });
  return new AppvisorError(
    'INSTANCE_EXISTS',
    `an instance "${id}" or its database exists already`,
    {
      field: 'id',
    },
  );
}

/** The default domain of new instances: this machine's name, or `localhost`. */
export function defaultDomain(): string {
  const name = hostname().toLowerCase();
  try {
    return normalizeDomain(name);
  } catch {
    return 'localhost';
  }
}
