/**
 * Remote backup targets as the backup jobs see them: a flat store of objects named by keys
 * relative to the target's root (its bucket prefix or WebDAV folder). remote-s3.ts and
 * remote-webdav.ts implement it; this file holds the contract and the mapping of what goes
 * wrong to the catalog's codes.
 */
import type { Readable } from 'node:stream';
import { AppvisorError } from '../errors/index.js';

/** One object of a target. */
export interface RemoteObject {
  /** Relative to the target's root, `/`-separated. */
  key: string;
  size: number;
  modifiedAt: string;
}

/** A byte range, both ends included (HTTP's). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a remote target does. Every method throws `TARGET_DENIED`, `TARGET_UNREACHABLE` or
 * `TARGET_FAILED` (never with a credential in the message); `get` of a missing key throws
 * `BACKUP_NOT_FOUND`.
 */
export interface RemoteStore {
  /**
   * Streams `body` to `key`, at constant memory, replacing an object there. The object
   * appears complete or not at all: a failed upload is aborted or its partial object deleted.
   */
  put(key: string, body: Readable): Promise<void>;
  /** Every object under the root (all depths), but none whose name starts with a dot. */
  list(): Promise<RemoteObject[]>;
  /** The object's bytes, or a range of them. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes the object; a missing one is no error. */
  remove(key: string): Promise<void>;
  /** Frees the connections. */
  close(): void;
}

/** Network errors that mean the server is not there (or went away). */
const unreachable = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TimeoutError',
]);

/** The network error code of `error` or of one of its causes, if any. */
function networkCode(error: unknown): string | undefined {
  for (
    let e = error as { code?: unknown; name?: unknown; cause?: unknown } | undefined, n = 0;
    e && n < 5;
    n++
  ) {
    if (typeof e.code === 'string' && unreachable.has(e.code)) return e.code;
    if (typeof e.name === 'string' && unreachable.has(e.name)) return e.name;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * The catalog's error for what `operation` on target `name` met: credentials refused (401,
 * 403) `TARGET_DENIED`; no answer or a connection cut `TARGET_UNREACHABLE`; any other answer
 * `TARGET_FAILED`. `status` is the HTTP status when there was one; `detail` the server's code.
 */
export function remoteError(
  name: string,
  operation: string,
  error: unknown,
  status?: number,
  detail?: string,
): AppvisorError {
  if (error instanceof AppvisorError) return error;
  const what = `backup target ${name}: ${operation}`;
  if (status === 401 || status === 403) {
    return new AppvisorError(
      'TARGET_DENIED',
      `${what} was refused (${status}${detail ? ` ${detail}` : ''}): check the credentials`,
      { cause: error },
    );
  }
  const network = status === undefined ? networkCode(error) : undefined;
  if (network) {
    return new AppvisorError('TARGET_UNREACHABLE', `${what} failed: ${network}`, { cause: error });
  }
  const reason = detail ?? (error as Error | undefined)?.message ?? 'an error';
  return new AppvisorError(
    'TARGET_FAILED',
    `${what} failed${status ? ` (${status})` : ''}: ${reason}`,
    { cause: error },
  );
}
