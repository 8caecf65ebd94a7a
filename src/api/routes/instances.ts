import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { idParams, secret, text } from '../schemas.js';

/** Instances: create, list, show, set, trace, admin login, delete. */
export function instanceRoutes(app: FastifyInstance, context: ApiContext): void {
  const { instances } = context;

  app.get<{ Querystring: { app?: string } }>(
    '/instances',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { app: text(200) },
          additionalProperties: false,
        },
      },
    },
    (request) => ({
      instances: instances.list(request.query.app === undefined ? {} : { app: request.query.app }),
    }),
  );

  app.post<{
    Body: { app: string; id: string; domain?: string; path?: string; password?: string };
  }>(
    '/instances',
    {
      schema: {
        body: {
          type: 'object',
          required: ['app', 'id'],
          properties: {
            app: text(200),
            id: text(200),
            domain: text(300),
            path: text(600),
            password: secret(300),
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { app: appId, id, ...options } = request.body;
      const view = await instances.create(appId, id, options);
      void reply.code(201);
      return view;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { reveal?: boolean } }>(
    '/instances/:id',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: { reveal: { type: 'boolean' } },
          additionalProperties: false,
        },
      },
    },
    (request) => instances.show(request.params.id, { reveal: request.query.reveal ?? false }),
  );

  app.patch<{
    Params: { id: string };
    Body: {
      domain?: string;
      path?: string;
      password?: string;
      enabled?: boolean;
      excludeFromBackup?: boolean;
    };
  }>(
    '/instances/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: {
            domain: text(300),
            path: text(600),
            password: secret(300),
            enabled: { type: 'boolean' },
            excludeFromBackup: { type: 'boolean' },
          },
          additionalProperties: false,
        },
      },
    },
    (request) => instances.set(request.params.id, request.body),
  );

  app.post<{ Params: { id: string }; Body: { changes: string[] } }>(
    '/instances/:id/trace',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          required: ['changes'],
          properties: { changes: { type: 'array', items: text(64), maxItems: 64 } },
          additionalProperties: false,
        },
      },
    },
    (request) => instances.trace(request.params.id, request.body.changes),
  );

  app.post<{ Params: { id: string }; Body: { challenge: string } }>(
    '/instances/:id/login',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          required: ['challenge'],
          properties: { challenge: text(64) },
          additionalProperties: false,
        },
      },
    },
    (request) => instances.adminLogin(request.params.id, request.body.challenge),
  );

  app.post<{ Params: { id: string } }>(
    '/instances/:id/open',
    { schema: { params: idParams } },
    (request) => {
      // The instance must exist; the grant lets its page ask the front for admin logins.
      instances.show(request.params.id);
      return context.grants.issue(request.params.id);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/instances/:id',
    { schema: { params: idParams } },
    async (request) => {
      await instances.delete(request.params.id);
      // A later instance of the same id (perhaps of another app) is not the one granted.
      context.grants.revoke(request.params.id);
      return { ok: true };
    },
  );
}
