import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type Http2ServerResponse } from 'node:http2';
import { isHttp2, sendJson } from '../../lib/http-json.js';
import { AppvisorError, sendError } from '../errors/index.js';

/** Where the front answers a page's request for an admin login to its instance. */
export const grantLoginPath = '/.appvisor/login';

/** Trades a grant and a challenge for a signed login (or throws an AppvisorError). */
export type GrantExchange = (token: string, challenge: string) => object | Promise<object>;

/** What {@link grantExchange} asks of the admin's grants and of the instances. */
export interface GrantSources {
  grants: { instanceOf(token: string): string | undefined };
  instances: { adminLogin(id: string, challenge: string): object };
  /**
   * On a node of a cluster: the node a grant names (undefined: none, or this one), and the
   * exchange made by that node, which holds the grant and hosts its instance (or knows who).
   */
  issuer?: {
    nodeOf(token: string): string | undefined;
    exchange(node: string, token: string, challenge: string): Promise<object>;
  };
}

/**
 * The exchange the front answers `POST /.appvisor/login` with: the instance a live grant was
 * given for, logged in with the page's challenge. An unknown or expired grant is UNAUTHORIZED.
 * On a cluster a grant another node issued is traded there.
 */
export function grantExchange({ grants, instances, issuer }: GrantSources): GrantExchange {
  return (token, challenge) => {
    const node = issuer?.nodeOf(token);
    if (issuer && node !== undefined) return issuer.exchange(node, token, challenge);
    const instance = grants.instanceOf(token);
    if (instance === undefined) {
      throw new AppvisorError(
        'UNAUTHORIZED',
        'the grant is unknown or expired: open the instance from the admin UI again',
      );
    }
    return instances.adminLogin(instance, challenge);
  };
}

const maxBody = 4 * 1024;

/** A login is for this page and this moment only: no answer here is ever stored. */
const noStore = { 'cache-control': 'no-store' };

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
    sendError(response, new AppvisorError('BAD_REQUEST', 'use POST', { status: 405 }), {
      ...noStore,
      allow: 'POST',
    });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBody) {
      if (!refused) {
        const tooLarge = new AppvisorError('BAD_REQUEST', 'the body is too large', { status: 413 });
        // The rest of the body is never read. HTTP/1.1: the connection ends here (a client
        // that kept it for its next request would have that one cut off). HTTP/2: only this
        // stream ends, the answer first, then RST_STREAM(NO_ERROR), which tells the client to
        // stop sending (RFC 9113, 8.1).
        sendError(response, tooLarge, { ...noStore, connection: 'close' });
        if (isHttp2(response)) {
          (response as unknown as Http2ServerResponse).stream.close(constants.NGHTTP2_NO_ERROR);
        }
      }
      refused = true;
      if (!isHttp2(response)) request.destroy();
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
      void Promise.resolve(exchange(token, challenge)).then(
        (login) => {
          sendJson(response, 200, login, noStore);
        },
        (error: unknown) => {
          refuse(response, error);
        },
      );
    } catch (error) {
      refuse(response, error);
    }
  });
  request.once('error', () => undefined);
}

/** Answers a refused exchange: its own error, or INTERNAL for anything else. */
function refuse(response: ServerResponse, error: unknown): void {
  const refusal =
    error instanceof AppvisorError
      ? error
      : new AppvisorError('INTERNAL', 'the login could not be made');
  sendError(response, refusal, noStore);
}
