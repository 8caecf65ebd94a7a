import type pg from 'pg';
import { connectClient } from '../../lib/pg-clients.js';
import type { DatabaseState, DatabaseStateChange } from './types.js';

/** The observed state of a database server, with its listeners. */
export class ServerState {
  readonly #listeners = new Set<(change: DatabaseStateChange) => void>();
  #state: DatabaseState = 'stopped';
  #since = new Date();

  get state(): DatabaseState {
    return this.#state;
  }

  /** When the current state began, ISO 8601. */
  get since(): string {
    return this.#since.toISOString();
  }

  /** Moves to `state` and tells the listeners; nothing happens when it is the current one. */
  set(state: DatabaseState, reason?: string): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#since = new Date();
    for (const listener of this.#listeners) {
      listener({ state, previous, ...(reason ? { reason } : {}) });
    }
  }

  onChange(listener: (change: DatabaseStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Connects once and asks the server's version; throws when it does not answer. */
export async function serverVersion(
  config: pg.ClientConfig,
  timeoutMs: number,
): Promise<string | null> {
  const client = await connectClient({ ...config, connectionTimeoutMillis: timeoutMs });
  try {
    const result = await client.query<{ v: string }>(
      "SELECT current_setting('server_version') AS v",
    );
    return result.rows[0]?.v ?? null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
