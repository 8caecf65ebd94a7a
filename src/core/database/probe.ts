import type pg from 'pg';
import { connectClient } from '../../lib/pg-clients.js';

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
