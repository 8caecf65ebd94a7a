/**
 * A PostgreSQL server the manager does not run, as an operator runs theirs: its own cluster in
 * a temp folder, on 127.0.0.1 at a fixed port, with a superuser password only the test knows.
 * The test stops it (smart or fast shutdown) and starts it again on the same port, to play an
 * outage; the manager reaches it only through `database.url` with a role made as docs/install.md
 * tells an operator. As root it runs as the `postgres` system user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { blockingFolder } from '../../src/lib/folder-access.js';
import { ensureSystemUser } from '../../src/lib/os-users.js';
import {
  findPostgresBinaries,
  runPostgresProgram,
  stageBinaries,
} from '../../src/lib/postgres-binaries.js';
import { freePort, waitForExit } from '../../src/lib/processes.js';

const serverEnv = { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' };

/** The operator's role for the manager, as docs/install.md makes it. */
export const operatorRole = { user: 'ext_admin', password: 'ext-admin-password-1' };

/** A test's own PostgreSQL server; see the file's comment. */
export class ExternalServer {
  readonly port: number;
  readonly #root: string;
  readonly #postgres: string;
  readonly #user: { uid: number; gid: number } | undefined;
  readonly #password: string;
  #child: ChildProcess | undefined;
  #output = '';
  #maxConnections = 200;

  private constructor(
    root: string,
    port: number,
    postgres: string,
    user: { uid: number; gid: number } | undefined,
    password: string,
  ) {
    this.#root = root;
    this.port = port;
    this.#postgres = postgres;
    this.#user = user;
    this.#password = password;
  }

  /** Makes a cluster under `root/server` (initdb) and starts it. */
  static async create(root: string, maxConnections = 200): Promise<ExternalServer> {
    const folder = join(root, 'server');
    await mkdir(folder, { recursive: true, mode: 0o711 });
    const isRoot = process.getuid?.() === 0;
    const user = isRoot ? await ensureSystemUser('postgres') : undefined;
    let binaries = await findPostgresBinaries();
    if (user) {
      await chmod(root, 0o711);
      if (await blockingFolder(binaries.root, user))
        binaries = await stageBinaries(binaries, folder);
    }
    const dataDir = join(folder, 'pg');
    await mkdir(dataDir, { mode: 0o700 });
    const password = randomBytes(18).toString('base64url');
    const pwfile = join(folder, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) for (const path of [dataDir, pwfile]) await chown(path, user.uid, user.gid);
    const init = await runPostgresProgram(
      binaries.initdb,
      ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C'],
      serverEnv,
      user,
    );
    await rm(pwfile, { force: true });
    if (init.code !== 0) throw new Error(`initdb failed: ${init.text.slice(-500)}`);
    // Password logins over TCP, as on a real server (initdb's --auth would also cover the socket).
    await writeFile(join(dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 scram-sha-256\n');
    const server = new ExternalServer(root, await freePort(), binaries.postgres, user, password);
    server.#maxConnections = maxConnections;
    await server.start();
    return server;
  }

  /** Connection settings of the superuser. */
  superConfig(database = 'postgres'): pg.ClientConfig {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: 'postgres',
      password: this.#password,
      database,
    };
  }

  /** The manager's `database.url` for a role. */
  urlOf(role: { user: string; password: string } = operatorRole): string {
    return `postgres://${role.user}:${encodeURIComponent(role.password)}@127.0.0.1:${this.port}/postgres`;
  }

  /** Runs statements as the superuser, on one connection to `database`. */
  async superQuery(statements: string[], database = 'postgres'): Promise<pg.QueryResult[]> {
    const client = new pg.Client(this.superConfig(database));
    await client.connect();
    try {
      const results: pg.QueryResult[] = [];
      for (const text of statements) results.push(await client.query(text));
      return results;
    } finally {
      await client.end();
    }
  }

  /** Makes the operator's role: `LOGIN CREATEDB CREATEROLE`, no superuser. */
  async makeOperatorRole(extra = ''): Promise<string> {
    await this.superQuery([
      `CREATE ROLE ${operatorRole.user} LOGIN CREATEDB CREATEROLE PASSWORD '${operatorRole.password}' ${extra}`,
    ]);
    return this.urlOf();
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  async start(): Promise<void> {
    this.#output = '';
    const child = spawn(
      this.#postgres,
      [
        '-D',
        join(this.#root, 'server', 'pg'),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `port=${this.port}`,
        '-c',
        'unix_socket_directories=',
        '-c',
        'fsync=off',
        '-c',
        `max_connections=${this.#maxConnections}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: serverEnv,
        ...(this.#user ? { uid: this.#user.uid, gid: this.#user.gid } : {}),
      },
    );
    this.#child = child;
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`PostgreSQL ended at its start: ${this.#output.slice(-500)}`);
      }
      const client = new pg.Client(this.superConfig());
      try {
        await client.connect();
        await client.end();
        return;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /**
   * Stops the server: `smart` waits for every session to end (SIGTERM), `fast` ends them
   * (SIGINT). Resolves whether it ended within `timeoutMs`; it is killed otherwise.
   */
  async stop(mode: 'smart' | 'fast', timeoutMs = 30_000): Promise<boolean> {
    const child = this.#child;
    if (!child?.pid) return true;
    const pid = child.pid;
    child.kill(mode === 'smart' ? 'SIGTERM' : 'SIGINT');
    const ended = await waitForExit(pid, timeoutMs);
    if (!ended) {
      child.kill('SIGQUIT');
      if (!(await waitForExit(pid, 10_000))) child.kill('SIGKILL');
      await waitForExit(pid, 10_000);
    }
    this.#child = undefined;
    return ended;
  }

  /** Whether the server's process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }
}
