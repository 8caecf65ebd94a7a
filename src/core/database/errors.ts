import { isConnectionFailure } from '../../lib/pg-errors.js';
import { AppvisorError } from '../errors/index.js';

/**
 * What a database operation rejects with: a connection that could not be made or broke (the
 * server is down or restarting) becomes the catalog's `DATABASE_UNAVAILABLE` (503 with
 * Retry-After), with the original as its cause; any other error (a statement's own) stays as
 * it is. Pass only errors of pg connections and queries (see {@link isConnectionFailure}).
 */
export function databaseError(error: unknown): unknown {
  if (error instanceof AppvisorError || !isConnectionFailure(error)) return error;
  return new AppvisorError('DATABASE_UNAVAILABLE', undefined, { cause: error });
}
