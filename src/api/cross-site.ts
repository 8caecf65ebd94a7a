import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppvisorError } from '../core/errors/index.js';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Content types a page of another site may send without asking first (a CORS "simple" request). */
const simpleTypes = new Set([
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

function mediaType(header: string | undefined): string | undefined {
  return header?.split(';', 1)[0]?.trim().toLowerCase() || undefined;
}

/** The origin the request was sent to, as a browser writes it in `Origin`. */
function ownOrigin(request: FastifyRequest): string | undefined {
  const host = request.headers.host;
  return host ? `${request.protocol}://${host.toLowerCase()}` : undefined;
}

/**
 * Refuses state-changing requests that a page of another origin could have made the admin's
 * browser send (CSRF): a browser's cookie goes along with any request to this host, so a
 * request that relies on it must prove it came from the admin UI itself.
 *
 * - Requests authenticated by a bearer token or on the local socket carry no ambient
 *   credentials and pass.
 * - Otherwise (the session cookie, or no credentials, as a login), `Sec-Fetch-Site` must be
 *   `same-origin` or `none` when sent, `Origin` must be this origin when sent, and the body's
 *   content type must be one a cross-site page cannot send without a CORS preflight, which this
 *   API never grants (JSON, or octet-stream for uploads; the "simple" ones are refused). A request without a body passes only
 *   when the browser said where it came from (`Origin` or `Sec-Fetch-Site`, checked above): a
 *   program without a browser uses a token.
 *
 * Anonymous requests are checked too: a page elsewhere must not be able to make the admin's
 * browser post wrong passwords, which would lock the admin out of the login for a while.
 */
export function refuseCrossSite(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  try {
    check(request);
    done();
  } catch (error) {
    done(error as Error);
  }
}

function check(request: FastifyRequest): void {
  if (safeMethods.has(request.method)) return;
  const via = request.principal?.via;
  if (via === 'socket' || via === 'token') return;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new AppvisorError('FORBIDDEN', `a ${site} request may not change anything here`);
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== ownOrigin(request)) {
    throw new AppvisorError('FORBIDDEN', `a request from ${origin} may not change anything here`);
  }
  const type = mediaType(request.headers['content-type']);
  if (type !== undefined && simpleTypes.has(type)) {
    throw new AppvisorError(
      'FORBIDDEN',
      'state-changing requests must send JSON (content-type: application/json)',
    );
  }
  if (type === undefined && site === undefined && origin === undefined) {
    throw new AppvisorError(
      'FORBIDDEN',
      'a request without a body must come from the admin UI, or carry a bearer token',
    );
  }
}
