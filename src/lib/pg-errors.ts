/*
 * What pg's errors mean, for the manager and the SDK alike: plain functions of the error's
 * fields, no imports.
 */

/** SQLSTATEs of a server going away: admin shutdown, crash shutdown, cannot connect now. */
const goneStates = new Set(['57P01', '57P02', '57P03']);
/** Node's errors of a socket that could not connect or broke; no file operation makes them. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Whether `error`, as a pg connect or query rejected with it, says the connection to the
 * server failed or broke (the server is down or restarting), as opposed to an error of the
 * statement itself: a socket error (ECONNRESET, ...; ENOENT only from a connect: the Unix
 * socket is gone), pg's own "Connection terminated" and "not queryable" errors, a connect
 * timeout, a connection exception (SQLSTATE class 08) or a shutdown (57P01-57P03).
 */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message, syscall } = error as {
    code?: unknown;
    message?: unknown;
    syscall?: unknown;
  };
  if (typeof code === 'string') {
    if (goneStates.has(code) || /^08[0-9A-Z]{3}$/.test(code) || socketCodes.has(code)) return true;
    if (code === 'ENOENT' && syscall === 'connect') return true;
  }
  return (
    typeof message === 'string' &&
    /Connection terminated|not queryable|timeout exceeded when trying to connect/.test(message)
  );
}
