import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { sendJson } from '../lib/http-json.js';

export { sendJson };

/**
 * An HTTP request as a handler receives it: Node's request with the path inside the instance.
 * `url` stays the original full path (apps written before `path` existed read it).
 */
export interface AppRequest extends IncomingMessage {
  /**
   * The request's path inside the instance, without the query: `/` for the instance's own path
   * (`/example.com/acme` and `/example.com/acme/`), `/count` for `/example.com/acme/count?x=1`.
   * Still percent-encoded. A URL that is not below the instance's path (a request made to the
   * service's socket by hand) is taken as a path inside the instance as it is.
   */
  path: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  /** Parameters of the router's pattern that matched (`/items/:id` → `{ id }`), decoded. */
  params: Record<string, string>;
}

/**
 * An error a handler throws to answer with its status and `{ code, message }` as JSON (the
 * SDK catches it, in a router or in a plain `http` handler). The message goes to the client:
 * never put secrets in it. Other errors are answered 500 without their text.
 */
export class HttpError extends Error {
  constructor(
    /** The HTTP status, 400–599. */
    readonly status: number,
    /** A stable code for programs, e.g. `NOT_FOUND`. */
    readonly code: string,
    message: string,
    /** Headers added to the answer (e.g. `allow`, `retry-after`). */
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Answers an {@link HttpError} as JSON `{ code, message }` with its status and headers. */
export function sendError(response: ServerResponse, error: HttpError): void {
  sendJson(response, error.status, { code: error.code, message: error.message }, error.headers);
}

/**
 * The path of `url` inside the instance at `base`, and its query. See {@link AppRequest.path}.
 */
export function pathInside(
  url: string | undefined,
  base: string,
): { path: string; query: URLSearchParams } {
  const full = url ?? '/';
  const mark = full.indexOf('?');
  const pathname = mark === -1 ? full : full.slice(0, mark);
  const query = new URLSearchParams(mark === -1 ? '' : full.slice(mark + 1));
  let path = pathname;
  if (pathname === base) path = '/';
  else if (pathname.startsWith(`${base}/`)) path = pathname.slice(base.length);
  return { path: path === '' ? '/' : path, query };
}

/**
 * Gives `request` the {@link AppRequest} fields for the instance at `base` (the SDK does it
 * before calling a handler; `params` starts empty).
 */
export function asAppRequest(request: IncomingMessage, base: string): AppRequest {
  const { path, query } = pathInside(request.url, base);
  return Object.assign(request, { path, query, params: {} });
}

/** Default largest JSON body {@link readJson} takes: 1 MiB. */
export const maxJsonBytes = 1024 * 1024;

/** Options of {@link readJson}. */
export interface ReadJsonOptions {
  /** Largest body in bytes; a larger one is refused with 413. Default {@link maxJsonBytes}. */
  maxBytes?: number;
}

/**
 * Reads the request's body as JSON. Throws an {@link HttpError}: 413 `PAYLOAD_TOO_LARGE` when
 * the body (or its announced Content-Length) is larger than `maxBytes` (the rest is not read;
 * the connection is closed after the answer), 400 `BAD_REQUEST` when it is empty or not JSON.
 * A content type is not required (curl sends forms' by default).
 */
export async function readJson(
  request: IncomingMessage,
  options: ReadJsonOptions = {},
): Promise<unknown> {
  const limit = options.maxBytes ?? maxJsonBytes;
  const tooLarge = () =>
    new HttpError(413, 'PAYLOAD_TOO_LARGE', `the JSON body is larger than ${limit} bytes`, {
      connection: 'close',
    });
  // Waiting for an 'end' that came already would hang the request: a fault of the app (500).
  if (request.readableEnded) throw new Error('readJson: the request body was read already');
  const announced = Number(request.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: Error) => {
      // The error listener stays: a client going away later must not become an unhandled
      // 'error' (a second settle of the promise does nothing).
      request.off('data', onData).off('end', onEnd);
      if (error === undefined) resolve(Buffer.concat(chunks));
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Not destroyed: that would cut the connection before the 413 goes out. The rest is
      // read and dropped until the answer closes the connection.
      done(tooLarge());
      request.resume();
    };
    const onEnd = () => {
      done();
    };
    const onError = (error: Error) => {
      done(error);
    };
    request.on('data', onData).on('end', onEnd).on('error', onError);
  });
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'BAD_REQUEST', 'the request has no JSON body');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(
      400,
      'BAD_REQUEST',
      `the body is not valid JSON: ${(error as Error).message}`,
    );
  }
}
