import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientKey, sessionCookie } from '../auth.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { loginContract, passwordContract } from '../contracts.js';
import { AppvisorError } from '../../core/errors/index.js';

function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  expiresAt: string,
): void {
  void reply.setCookie(sessionCookie, token, {
    path: '/manager',
    httpOnly: true,
    sameSite: 'strict',
    secure: request.protocol === 'https',
    expires: new Date(expiresAt),
  });
}

/**
 * Checks the admin's current password the way a login does (same rate limit); a wrong one is a
 * field error of the form, not a 401 that would read as "logged out".
 */
async function checkCurrentPassword(
  context: ApiContext,
  current: string | undefined,
  client: string,
): Promise<void> {
  if (!current) {
    throw new AppvisorError('BAD_REQUEST', 'give the current admin password', {
      field: 'current',
    });
  }
  try {
    await context.auth.checkPassword(current, client);
  } catch (error) {
    if (error instanceof AppvisorError && error.code === 'LOGIN_FAILED') {
      throw new AppvisorError('BAD_REQUEST', 'the current admin password is wrong', {
        field: 'current',
      });
    }
    throw error;
  }
}

/** Login, logout, the current login, and the admin password. */
export function authRoutes(app: FastifyInstance, context: ApiContext): void {
  app.post<RouteOf<typeof loginContract>>(
    '/auth/login',
    { config: { public: true }, schema: loginContract.schema },
    async (request, reply) => {
      const session = await context.auth.login(request.body.password, clientKey(request));
      setSessionCookie(request, reply, session.token, session.expiresAt);
      return session;
    },
  );

  app.post('/auth/logout', async (request, reply) => {
    const principal = request.principal;
    if (principal && principal.via !== 'socket') await context.auth.logout(principal.token);
    void reply.clearCookie(sessionCookie, { path: '/manager' });
    return { ok: true };
  });

  app.get('/auth/session', (request) => {
    const principal = request.principal!;
    return principal.via === 'socket'
      ? { via: principal.via }
      : { via: principal.via, expiresAt: principal.expiresAt };
  });

  app.put<RouteOf<typeof passwordContract>>(
    '/admin/password',
    { schema: passwordContract.schema },
    async (request, reply) => {
      // A stolen session (or a page acting through the admin's browser) must not be able to
      // lock the admin out: over HTTP the change needs the current password; the local socket
      // is root's already.
      if (request.principal?.via !== 'socket') {
        await checkCurrentPassword(context, request.body.current, clientKey(request));
      }
      const generated = await context.auth.setPassword(request.body.password);
      // The pages opened with the old password's sessions lose their grants too.
      context.grants.revoke();
      void reply.clearCookie(sessionCookie, { path: '/manager' });
      // Every login ended with the change; a generated password is shown this once.
      return generated ? { password: generated } : {};
    },
  );
}
