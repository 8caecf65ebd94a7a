import type { Query } from './store.js';

/**
 * Writes one row of the `settings` table (a JSON value by key), replacing what was there.
 * `query` is the store's or a transaction's, so a change can go with others in one commit.
 */
export async function putSetting(query: Query, key: string, value: unknown): Promise<void> {
  await query(
    `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`,
    [key, JSON.stringify(value)],
  );
}
