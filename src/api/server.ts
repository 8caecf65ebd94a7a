import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { authenticate } from './auth.js';
import type { ApiContext } from './context.js';
import { errorHandler } from './errors.js';
import { appRoutes } from './routes/apps.js';
import { authRoutes } from './routes/auth.js';
import { certRoutes } from './routes/cert.js';
import { instanceRoutes } from './routes/instances.js';
import { statusRoutes } from './routes/health.js';

/** Prefix of every API route. */
export const apiPrefix = '/manager/api/v1';

/** The admin API: a Node request handler for the front and for manager.sock. */
export interface Api {
  handler: (request: IncomingMessage, response: ServerResponse) => void;
  app: FastifyInstance;
  close(): Promise<void>;
}

const landingPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>appvisor</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>appvisor</h1>
<p>The manager is running. Administer it with the <code>appvisor</code> command or the REST API under
<code>${apiPrefix}/</code> (start with <code>POST ${apiPrefix}/auth/login</code>).</p>
</body></html>
`;

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
  });
  await app.register(fastifyCookie);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
    });
  });

  app.get('/manager/', { config: { public: true } }, (_request, reply) => {
    void reply.type('text/html; charset=utf-8').send(landingPage);
  });
  app.get('/manager', { config: { public: true } }, (_request, reply) => {
    void reply.redirect('/manager/');
  });

  await app.register(
    (api, _options, done) => {
      api.addHook('onRequest', authenticate(context));
      statusRoutes(api, context);
      authRoutes(api, context);
      appRoutes(api, context);
      instanceRoutes(api, context);
      certRoutes(api, context);
      done();
    },
    { prefix: apiPrefix },
  );
  await app.ready();
  if (!handler) throw new Error('fastify did not provide a request handler');
  return { handler, app, close: () => app.close() };
}
