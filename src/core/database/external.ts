import type pg from 'pg';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
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
}

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

  constructor(options: ExternalPostgresOptions) {
    this.#options = options;
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
    await this.#probe();
    this.#state.dispatch('ready');
    this.#timer = setInterval(() => {
      this.#probe().then(
        () => {
          this.#state.dispatch('ready');
        },
        (error: unknown) => {
          const reason = (error as Error).message;
          if (this.#state.state === 'running') {
            this.#options.logger.error({ reason }, 'the external database is unreachable');
          }
          this.#state.dispatch('down', { reason });
        },
      );
    }, this.#options.probeIntervalMs ?? 10_000);
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    this.#version = await serverVersion(this.adminConfig('postgres'), 5000);
  }

  readonly close = once(async () => {
    clearInterval(this.#timer);
    this.#state.dispatch('stop');
    await Promise.resolve();
  });

  destroy(): void {
    clearInterval(this.#timer);
  }
}
