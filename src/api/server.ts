import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifySchema } from 'fastify';
import { AppvisorError } from '../core/errors/index.js';
import { authenticate } from './auth.js';
import { limitBodyTime } from './body-timeout.js';
import { emptyBodyIsNoBody } from './empty-body.js';
import { refuseCrossSite } from './cross-site.js';
import type { ApiContext } from './context.js';
import { errorHandler, formatSchemaError } from './errors.js';
import { closeRouteSchema } from './schemas.js';
import { alarmRoutes } from './routes/alarms.js';
import { nodeRoutes } from './routes/nodes.js';
import { appRoutes } from './routes/apps.js';
import { authRoutes } from './routes/auth.js';
import { backupRoutes } from './routes/backups.js';
import { backupTargetRoutes } from './routes/backup-targets.js';
import { certRoutes } from './routes/cert.js';
import { instanceRoutes } from './routes/instances.js';
import { monitorRoutes } from './routes/monitor.js';
import { configRoutes } from './routes/config.js';
import { settingsRoutes } from './routes/settings.js';
import { statusRoutes } from './routes/health.js';
import { storeRoutes } from './routes/store.js';
import { uiRoutes } from './ui.js';
import { apiPrefix } from './prefix.js';

/** Prefix of every API route. */
export { apiPrefix };

/** One route of the API as registered (its schema closed by {@link closeRouteSchema}). */
export interface ApiRoute {
  method: string;
  /** With the prefix and `:param` placeholders. */
  url: string;
  schema: FastifySchema;
  /** The body is a stream of bytes (a package upload), not JSON. */
  streamedBody: boolean;
  /** Reachable without a login (health and login only). */
  public: boolean;
}

/** The admin API: a Node request handler for the front and for manager.sock. */
export interface Api {
  handler: (request: IncomingMessage, response: ServerResponse) => void;
  app: FastifyInstance;
  /** Every route under {@link apiPrefix} (HEAD routes Fastify adds for GET ones left out). */
  routes: readonly ApiRoute[];
  close(): Promise<void>;
}

/** Builds the admin API on Fastify. The caller owns the listening sockets. */
export async function buildApi(context: ApiContext): Promise<Api> {
  let handler: Api['handler'] | undefined;
  // Each request is logged only at debug and trace levels; failures are always logged.
  const apiLogger: FastifyBaseLogger = context.logger.child(
    { component: 'api' },
    { level: ['debug', 'trace'].includes(context.logger.level) ? context.logger.level : 'warn' },
  );
  const app = Fastify({
    loggerInstance: apiLogger,
    serverFactory: (fastifyHandler) => {
      handler = fastifyHandler;
      return createServer(fastifyHandler);
    },
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    // Ajv's default drops unknown fields: a misspelt `password` key then read as "no password
    // given" and generated a new one. Every object schema is closed (closeRouteSchema), so an
    // unknown field is a 400 naming it.
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: formatSchemaError,
  });
  // The API reads JSON only (and the upload route its package types, in its own context):
  // any other content type is 415 before a handler sees it.
  app.removeContentTypeParser('text/plain');
  await app.register(fastifyCookie);
  const hsts = context.hstsMaxAgeSeconds ?? 0;
  if (hsts > 0) {
    // Only over TLS (the protocol comes from the socket: no proxy headers are trusted); a
    // browser ignores it over plain HTTP anyway, and over manager.sock there is no browser.
    app.addHook('onRequest', (request, reply, done) => {
      // On the raw response: the UI's files are sent past Fastify (hijacked replies).
      if (request.protocol === 'https')
        reply.raw.setHeader('strict-transport-security', `max-age=${hsts}`);
      done();
    });
  }
  app.setErrorHandler(errorHandler);
  limitBodyTime(app, context.bodyTimeouts ?? { bodyMs: 30_000, uploadIdleMs: 60_000 });
  app.setNotFoundHandler((request, reply) => {
    const message = `no route ${request.method} ${request.url.split('?')[0] ?? ''}`;
    errorHandler(new AppvisorError('NOT_FOUND', message), request, reply);
  });

  uiRoutes(app, context.uiDir);

  const routes: ApiRoute[] = [];
  await app.register(
    (api, _options, done) => {
      api.addHook('onRoute', (route) => {
        closeRouteSchema(route);
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        for (const method of methods) {
          // Fastify adds a HEAD route for each GET one: the same route.
          if (method === 'HEAD' && routes.some((r) => r.url === route.url)) continue;
          routes.push({
            method,
            url: route.url,
            schema: route.schema ?? {},
            streamedBody: route.config?.streamedBody === true,
            public: route.config?.public === true,
          });
        }
      });
      api.addHook('onRequest', authenticate(context));
      api.addHook('onRequest', refuseCrossSite);
      emptyBodyIsNoBody(api);
      statusRoutes(api, context);
      authRoutes(api, context);
      appRoutes(api, context);
      instanceRoutes(api, context);
      certRoutes(api, context);
      settingsRoutes(api, context);
      configRoutes(api, context);
      backupRoutes(api, context);
      backupTargetRoutes(api, context);
      alarmRoutes(api, context);
      nodeRoutes(api, context);
      monitorRoutes(api, context);
      storeRoutes(api, context);
      done();
    },
    { prefix: apiPrefix },
  );
  await app.ready();
  if (!handler) throw new Error('fastify did not provide a request handler');
  return { handler, app, routes, close: () => app.close() };
}
