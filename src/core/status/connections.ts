import type { Store } from '../store/index.js';

/**
 * How many client connections the database server holds now (the monitor's `connections`):
 * one cheap catalog read on the store's pool, which fails fast while the server is down.
 */
export async function clientConnections(store: Pick<Store, 'query'>): Promise<number> {
  const result = await store.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'",
  );
  return result.rows[0]?.n ?? 0;
}
