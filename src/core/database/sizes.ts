/** How much disk the instances' databases take. */
import { isConnectionFailure } from '../../lib/pg-errors.js';
import { withAdmin } from './provision.js';
import type { DatabaseServer } from './types.js';

/**
 * The size on disk of each database named (`pg_database_size`: its files in every tablespace),
 * over one admin connection; null for one that does not exist (or was dropped meanwhile: a
 * delete or a restore's swap may run at the same time, and must not fail the others).
 */
export async function databaseSizes(
  server: DatabaseServer,
  names: readonly string[],
): Promise<Map<string, number | null>> {
  const sizes = new Map<string, number | null>();
  if (names.length === 0) return sizes;
  return withAdmin(server, async (client) => {
    for (const name of names) {
      const found = await client
        .query<{ size: string | null }>(
          'SELECT pg_database_size(oid) AS size FROM pg_database WHERE datname = $1',
          [name],
        )
        .catch((error: unknown) => {
          // The database went between the row and its size; a lost server fails them all.
          if (isConnectionFailure(error)) throw error;
          return undefined;
        });
      const size = found?.rows[0]?.size;
      sizes.set(name, size === undefined || size === null ? null : Number(size));
    }
    return sizes;
  });
}
