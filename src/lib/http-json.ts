import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** A JSON answer: its status and body. */
export interface JsonAnswer {
  status: number;
  body: object;
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
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}
