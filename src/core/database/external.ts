import { setTimeout as wait } from 'node:timers/promises';
import type pg from 'pg';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { connectClient } from '../../lib/pg-clients.js';
import { isConnectionFailure } from '../../lib/pg-errors.js';
import { AppvisorError } from '../errors/index.js';
import { checkPrivileges, closeSharedDatabases, readRoleFacts } from './external-role.js';
import { ServerMachine } from './machine.js';
import { serverVersion } from './probe.js';
import type { DatabaseInfo, DatabaseServer, DatabaseState, DatabaseStateChange } from './types.js';

/** Options of {@link ExternalPostgres}. */
export interface ExternalPostgresOptions {
  /** URL of an admin role (CREATEDB, CREATEROLE) on the external server. */
  url: string;
  logger: Logger;
  /** How often the server is probed to notice an outage. */
  probeIntervalMs?: number;
  /**
   * How long a start waits for a server that does not answer (`database.startWaitSeconds`);
   * 0 or absent: for ever.
   */
  startWaitMs?: number;
  /** Aborted when the manager is told to stop before it is ready: the start's wait ends. */
  stopping?: AbortSignal;
  /** Delays between the start's attempts: first, cap (ms). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * SQLSTATEs of a server that answers but refuses the login: a retry cannot help, the operator
 * must change the URL or the server (wrong password, no such role or database, pg_hba.conf).
 */
const loginRefusals: Readonly<Record<string, string>> = {
  '28P01': 'the password (or the role) is wrong',
  '28000': 'the login is not allowed',
  '3D000': 'the database postgres, where the manager connects first, does not exist',
};

/**
 * A PostgreSQL server the manager does not run: it only connects to it, and probes it
 * periodically so that an outage shows as a state change like the embedded server's (the table
 * of machine.ts: an unanswered probe is `down`, an answered one `ready`).
 */
export class ExternalPostgres implements DatabaseServer {
  readonly name = 'database';
  readonly mode = 'external' as const;
  readonly #options: ExternalPostgresOptions;
  readonly #url: URL;
  readonly #state = new ServerMachine();
  #version: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  /** Ends a wait of the start's retry loop at once, and the watch (close, destroy). */
  readonly #abort = new AbortController();
  /** The session of {@link #watch}, while one is open or opening. */
  #watcher: { end(): Promise<void> } | undefined;
  #checking = false;

  constructor(options: ExternalPostgresOptions) {
    this.#options = options;
    options.stopping?.addEventListener(
      'abort',
      () => {
        this.#abort.abort();
      },
      { once: true },
    );
    this.#url = new URL(options.url);
  }

  get state(): DatabaseState {
    return this.#state.state;
  }

  onStateChange(listener: (change: DatabaseStateChange) => void): () => void {
    return this.#state.onChange(listener);
  }

  adminConfig(database: string): pg.ClientConfig {
    const url = new URL(this.#url);
    url.pathname = `/${encodeURIComponent(database)}`;
    return { connectionString: url.toString(), application_name: 'appvisor' };
  }

  info(): DatabaseInfo {
    return {
      mode: this.mode,
      state: this.#state.state,
      version: this.#version,
      host: this.#url.hostname,
      port: Number(this.#url.port || 5432),
      cluster: null,
      pid: null,
      restarts: 0,
      since: this.#state.since,
    };
  }

  async start(): Promise<void> {
    this.#state.dispatch('start');
    await this.#firstContact();
    this.#state.dispatch('ready');
    this.#timer = setInterval(() => {
      this.#check();
    }, this.#options.probeIntervalMs ?? 10_000);
    this.#timer.unref();
    this.#watch();
  }

  /**
   * Probes the server (one at a time): an answer makes it `ready` (and opens the watch again),
   * no answer `down` (and ends the watch, so that a smart shutdown under way can finish).
   */
  #check(): void {
    if (this.#checking || this.#abort.signal.aborted) return;
    this.#checking = true;
    this.#probe()
      .then(
        () => {
          this.#state.dispatch('ready');
          this.#watch();
        },
        (error: unknown) => {
          const reason = (error as Error).message;
          if (this.#state.state === 'running') {
            this.#options.logger.error({ reason }, 'the external database is unreachable');
          }
          this.#state.dispatch('down', { reason });
          void this.#watcher?.end().catch(() => undefined);
        },
      )
      .finally(() => {
        this.#checking = false;
      });
  }

  /**
   * Holds one idle session while the server answers, only to hear at once when it goes away
   * (a stop ends every session, a crash or a broken link ends the socket): then the server is
   * probed at once, so instance pages answer 503 from that moment instead of at the next
   * periodic probe. A session that ended for another reason (idle_session_timeout, a
   * terminated backend) is opened again after a probe that succeeds. A smart shutdown waits
   * for this session too, until the next probe is refused (at most `probeIntervalMs`).
   */
  #watch(): void {
    if (this.#watcher || this.#abort.signal.aborted || this.#state.state !== 'running') return;
    const config = {
      ...this.adminConfig('postgres'),
      application_name: 'appvisor watch',
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    };
    const opening = connectClient(config);
    this.#watcher = { end: () => opening.then((client) => client.end()) };
    opening.then(
      (client) => {
        client.once('end', () => {
          this.#watcher = undefined;
          this.#check();
        });
      },
      () => {
        this.#watcher = undefined;
      },
    );
  }

  /** Where the server is, for messages (never the URL: it holds the password). */
  get #where(): string {
    return `${this.#url.hostname}:${this.#url.port || 5432}`;
  }

  /**
   * Connects for the first time, retrying while the server does not answer (1 s, doubling up
   * to 30 s; for ever unless `startWaitMs`), with a `DATABASE_UNAVAILABLE` warning at each
   * attempt. A server that answers but refuses the login fails at once with
   * `DATABASE_LOGIN`; a role that may not do what instances need with `DATABASE_PRIVILEGES`,
   * before anything is made on the server.
   */
  async #firstContact(): Promise<void> {
    const { logger } = this.#options;
    const started = Date.now();
    let delay = this.#options.retryDelayMs ?? 1000;
    const maxDelay = this.#options.maxRetryDelayMs ?? 30_000;
    const limit = this.#options.startWaitMs ?? 0;
    for (;;) {
      let client: pg.Client;
      try {
        client = await connectClient({
          ...this.adminConfig('postgres'),
          connectionTimeoutMillis: 10_000,
        });
      } catch (error) {
        const raw = (error as { code?: unknown }).code;
        const code = typeof raw === 'string' ? raw : '';
        const refusal = loginRefusals[code];
        if (refusal !== undefined) {
          throw new AppvisorError(
            'DATABASE_LOGIN',
            `the external database at ${this.#where} refused the login of role "${decodeURIComponent(this.#url.username)}": ${refusal} (${code}: ${(error as Error).message}); fix database.url or the server`,
          );
        }
        if (!isConnectionFailure(error)) throw error;
        const reason = (error as Error).message || code;
        if (limit > 0 && Date.now() - started + delay > limit) {
          throw new AppvisorError(
            'DATABASE_UNAVAILABLE',
            `the external database at ${this.#where} did not answer within database.startWaitSeconds (${limit / 1000} s): ${reason}`,
          );
        }
        logger.warn(
          { code: 'DATABASE_UNAVAILABLE', reason, retryInSeconds: delay / 1000 },
          `DATABASE_UNAVAILABLE: the external database at ${this.#where} does not answer (${reason}); retrying`,
        );
        await this.#sleep(delay);
        delay = Math.min(delay * 2, maxDelay);
        continue;
      }
      try {
        const facts = await readRoleFacts(client);
        checkPrivileges(facts);
        this.#version = facts.version;
        logger.info(
          {
            role: facts.role,
            version: facts.version,
            superuser: facts.superuser,
            createroleSelfGrant: facts.selfGrant,
          },
          'connected to the external database',
        );
        const statements = await closeSharedDatabases(client, facts.role);
        if (statements.length > 0) {
          logger.warn(
            `instance roles may connect to the shared databases of the external server (CONNECT for PUBLIC), and the manager may not change that; as a superuser run: ${statements.join(' ')}`,
          );
        }
        return;
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }

  /** Waits `ms`, or less when the server is closed meanwhile (then it rejects). */
  async #sleep(ms: number): Promise<void> {
    try {
      await wait(ms, undefined, { signal: this.#abort.signal });
    } catch {
      throw new AppvisorError('STARTING', 'the manager stopped while it waited for the database');
    }
  }

  async #probe(): Promise<void> {
    this.#version = await serverVersion(this.adminConfig('postgres'), 5000);
  }

  readonly close = once(async () => {
    this.#abort.abort();
    clearInterval(this.#timer);
    await this.#watcher?.end().catch(() => undefined);
    this.#state.dispatch('stop');
    await Promise.resolve();
  });

  destroy(): void {
    this.#abort.abort();
    clearInterval(this.#timer);
    void this.#watcher?.end().catch(() => undefined);
  }
}
