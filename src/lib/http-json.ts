import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** A JSON answer: its status and body. */
export interface JsonAnswer {
  status: number;
  body: object;
}

/**
 * Whether a response (or request) is HTTP/2's, one of the compatibility objects Node's HTTP/2
 * server hands to `request` handlers: those carry their stream, HTTP/1's objects do not. An
 * HTTP/2 answer may not name connection headers (`Connection`, `Keep-Alive`, ...): the
 * connection is shared by other requests.
 */
export function isHttp2(message: object): boolean {
  return 'stream' in message;
}

/**
 * Answers `body` as JSON with its length (never chunked: a client sees at once whether it got
 * all of it). `headers` come after the content headers and may add to them.
 */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: object,
  headers: OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  const extra = { ...headers };
  // `Connection: close` asks HTTP/1 to end the connection after the answer; on HTTP/2 it is
  // not allowed (and the connection carries other requests).
  if (isHttp2(response)) delete extra.connection;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  response.end(text);
}
