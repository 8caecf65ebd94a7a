import pg from 'pg';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { DatabaseInfo, DatabaseServer, DatabaseState, DatabaseStateChange } from './types.js';

/** Options of {@link ExternalPostgres}. */
export interface ExternalPostgresOptions {
  /** URL of an admin role (CREATEDB, CREATEROLE) on the external server. */
  url: string;
  logger: Logger;
  /** How often the server is probed to notice an outage. */
  probeIntervalMs?: number;
}

/**
 * A PostgreSQL server the manager does not run: it only connects to it, and probes it
 * periodically so that an outage shows as a state change like the embedded server's.
 */
export class ExternalPostgres implements DatabaseServer {
  readonly name = 'database';
  readonly mode = 'external' as const;
  readonly #options: ExternalPostgresOptions;
  readonly #url: URL;
  readonly #listeners = new Set<(change: DatabaseStateChange) => void>();
  #state: DatabaseState = 'stopped';
  #since = new Date();
  #version: string | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ExternalPostgresOptions) {
    this.#options = options;
    this.#url = new URL(options.url);
  }

  get state(): DatabaseState {
    return this.#state;
  }

  onStateChange(listener: (change: DatabaseStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  adminConfig(database: string): pg.ClientConfig {
    const url = new URL(this.#url);
    url.pathname = `/${encodeURIComponent(database)}`;
    return { connectionString: url.toString(), application_name: 'appvisor' };
  }

  info(): DatabaseInfo {
    return {
      mode: this.mode,
      state: this.#state,
      version: this.#version,
      host: this.#url.hostname,
      port: Number(this.#url.port || 5432),
      cluster: null,
      pid: null,
      restarts: 0,
      since: this.#since.toISOString(),
    };
  }

  async start(): Promise<void> {
    this.#setState('starting');
    await this.#probe();
    this.#setState('running');
    this.#timer = setInterval(() => {
      this.#probe().then(
        () => {
          this.#setState('running');
        },
        (error: unknown) => {
          this.#setState('restarting', (error as Error).message);
        },
      );
    }, this.#options.probeIntervalMs ?? 10_000);
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    const client = new pg.Client({
      ...this.adminConfig('postgres'),
      connectionTimeoutMillis: 5000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const result = await client.query<{ v: string }>(
        "select current_setting('server_version') as v",
      );
      this.#version = result.rows[0]?.v ?? null;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  #setState(state: DatabaseState, reason?: string): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#since = new Date();
    if (reason) this.#options.logger.error({ reason }, 'the external database is unreachable');
    for (const listener of this.#listeners)
      listener({ state, previous, ...(reason ? { reason } : {}) });
  }

  readonly close = once(async () => {
    clearInterval(this.#timer);
    this.#setState('stopped');
    await Promise.resolve();
  });

  destroy(): void {
    clearInterval(this.#timer);
  }
}
