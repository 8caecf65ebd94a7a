/** A real embedded PostgreSQL 18 in a temp folder, and databases made the way instances get theirs. */
import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { DumpSource } from '../../src/core/backup/index.js';
import {
  EmbeddedPostgres,
  ensureInstanceDatabase,
  instanceAccessRole,
  instanceDatabaseName,
} from '../../src/core/database/index.js';
import { createLogger } from '../../src/lib/logger.js';

const isRoot = process.getuid?.() === 0;

/** Starts a server with its files under `root` (which the caller removes). */
export async function startPostgres(root: string): Promise<EmbeddedPostgres> {
  await mkdir(join(root, 'server'), { recursive: true, mode: 0o711 });
  const db = new EmbeddedPostgres({
    dataDir: join(root, 'server', 'pg'),
    socketDir: join(root, 'server', 'run'),
    binariesDir: join(root, 'server'),
    logFile: join(root, 'server', 'postgres.log'),
    port: 0,
    maxConnections: 50,
    startTimeoutMs: 60_000,
    managerUser: isRoot ? 'root' : userInfo().username,
    isRoot,
    logger: createLogger({ level: 'silent', file: { write: () => undefined } }),
  });
  await db.start();
  return db;
}

/** Where and as whom to reach an instance-like database. */
export interface TestDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The manager's role of it (what backups and restores log in as) and its password. */
  access: { user: string; password: string };
}

/** A database made the way instances get theirs: its own role, a password, no superuser. */
export async function makeInstanceDatabase(
  db: EmbeddedPostgres,
  id: string,
  password: string,
): Promise<TestDatabase> {
  const name = instanceDatabaseName(id);
  const accessPassword = `access-${password}`;
  await ensureInstanceDatabase(db, { name, password, connectionLimit: 5, accessPassword });
  return {
    host: '127.0.0.1',
    port: db.info().port,
    user: name,
    password,
    database: name,
    access: { user: instanceAccessRole(name), password: accessPassword },
  };
}

/** What pg_dump needs of it: the database's own login. */
export function dumpSourceOf(db: TestDatabase): DumpSource {
  return {
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.database,
  };
}
