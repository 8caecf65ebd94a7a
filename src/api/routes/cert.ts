import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { secret } from '../schemas.js';

/** The TLS certificate: show, upload (validated, swapped in without a restart), reset. */
export function certRoutes(app: FastifyInstance, context: ApiContext): void {
  const { certificates } = context;

  app.get('/cert', () => certificates.status());

  app.put<{ Body: { cert: string; key: string } }>(
    '/cert',
    {
      schema: {
        body: {
          type: 'object',
          required: ['cert', 'key'],
          properties: {
            cert: secret(256 * 1024),
            key: secret(64 * 1024),
          },
          additionalProperties: false,
        },
      },
    },
    (request) => certificates.set(request.body.cert, request.body.key),
  );

  app.post('/cert/reset', () => certificates.reset());
}
