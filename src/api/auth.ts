import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sessionCookieName } from '../core/auth/index.js';
import { AppvisorError } from '../core/errors/index.js';
import type { ApiContext } from './context.js';

/** Name of the session cookie of the admin UI. */
export const sessionCookie = sessionCookieName;

/**
 * Every value the `Cookie` header gives the session cookie. A page of another port of this host
 * can set a cookie of the same name with a longer path (cookies do not keep to a port), which
 * the browser then sends first: each value is tried, so such a cookie cannot log the admin out.
 */
function sessionCookies(header: string | undefined): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === sessionCookie) {
      // Anyone can send a cookie: a value that does not decode is no token (it was a 500).
      try {
        values.push(decodeURIComponent(part.slice(at + 1).trim()));
      } catch {
        // not ours
      }
    }
  }
  return values.slice(0, 8);
}

/** Sockets accepted on manager.sock: their peer is the machine's admin (the socket is 0600). */
const trustedSockets = new WeakSet<Socket>();

/** Marks a socket whose requests need no login. */
export function trustSocket(socket: Socket): void {
  trustedSockets.add(socket);
}

/** How a request proved it is the admin. */
export type Principal =
  { via: 'socket' } | { via: 'token' | 'cookie'; token: string; expiresAt: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Reachable without authentication (health and login only). */
    public?: boolean;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** Finds who is calling; throws UNAUTHORIZED for a route that is not public. */
export function authenticate(context: ApiContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (trustedSockets.has(request.raw.socket)) {
      request.principal = { via: 'socket' };
      return;
    }
    const token = bearer(request);
    const candidates = token !== undefined ? [token] : sessionCookies(request.headers.cookie);
    for (const presented of candidates) {
      const session = await context.auth.verify(presented);
      if (session) {
        request.principal = { via: token ? 'token' : 'cookie', token: presented, ...session };
        return;
      }
    }
    const presented = candidates.length > 0;
    if (request.routeOptions.config.public) return;
    throw new AppvisorError(
      'UNAUTHORIZED',
      presented ? 'the login has expired or was ended; log in again' : undefined,
    );
  };
}

/** The client key for rate limiting: its address. */
export function clientKey(request: FastifyRequest): string {
  return request.ip || 'local';
}
