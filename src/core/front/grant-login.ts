import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppvisorError } from '../errors/index.js';

/** Where the front answers a page's request for an admin login to its instance. */
export const grantLoginPath = '/.appvisor/login';

/** Trades a grant and a challenge for a signed login (or throws an AppvisorError). */
export type GrantExchange = (token: string, challenge: string) => object;

const maxBody = 4 * 1024;

function answer(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

/**
 * `POST /.appvisor/login {token, challenge}` on the front: the page of an instance the admin
 * opened from the admin UI (which gave it a grant for that instance) gets an AppWebsocket
 * login signed with the instance's password, for that instance only. The grant is the only
 * credential: no cookie of the admin's is involved, so a page of another app gains nothing here.
 */
export function serveGrantLogin(
  request: IncomingMessage,
  response: ServerResponse,
  exchange: GrantExchange,
): void {
  if (request.method !== 'POST') {
    answer(response, 405, { code: 'BAD_REQUEST', message: 'use POST' });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBody) {
      if (!refused)
        answer(response, 413, { code: 'BAD_REQUEST', message: 'the body is too large' });
      refused = true;
      request.destroy();
      return;
    }
    chunks.push(chunk);
  });
  request.once('end', () => {
    if (refused) return;
    try {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw new AppvisorError('BAD_REQUEST', 'the body must be JSON: {token, challenge}');
      }
      const { token, challenge } = (body ?? {}) as { token?: unknown; challenge?: unknown };
      if (typeof token !== 'string' || typeof challenge !== 'string') {
        throw new AppvisorError('BAD_REQUEST', 'the body must be JSON: {token, challenge}');
      }
      answer(response, 200, exchange(token, challenge));
    } catch (error) {
      if (error instanceof AppvisorError) {
        answer(response, error.status, { code: error.code, message: error.message });
      } else {
        answer(response, 500, { code: 'INTERNAL', message: 'the login could not be made' });
      }
    }
  });
  request.once('error', () => undefined);
}
