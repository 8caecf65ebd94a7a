import pg from 'pg';

/**
 * pg's clients emit `'error'` when their connection breaks (the server restarts, a backend is
 * terminated, the socket is reset), also while a query runs and also while nobody uses them.
 * An `'error'` event nobody listens to ends the whole process, so every client the manager
 * holds must have a listener for as long as it lives: the pool's idle ones have the pool's,
 * and the helpers here give one to the others. The failure itself still reaches the caller,
 * as the rejection of the query that was running or of the next one.
 */

/**
 * A new client of `config`, connected, with an `'error'` listener for its whole life. End it
 * with `client.end()`.
 */
export async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/**
 * Runs `fn` with a client checked out of `pool`. While it is out the pool does not listen to
 * it (pg-pool removes its own listener at checkout), so it gets one here. A client whose
 * connection broke meanwhile is released with that error, which makes the pool drop it
 * instead of handing it out again.
 */
export async function withPoolClient<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    // Removed only now: release() puts the pool's own listener back first thing.
    client.release(lost ?? false);
    client.off('error', onError);
  }
}
