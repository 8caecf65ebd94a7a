import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { certificateContract } from '../contracts.js';

/** The TLS certificate: show, upload (validated, swapped in without a restart), reset. */
export function certRoutes(app: FastifyInstance, context: ApiContext): void {
  const { certificates } = context;

  app.get('/cert', () => certificates.status());

  app.put<RouteOf<typeof certificateContract>>(
    '/cert',
    { schema: certificateContract.schema },
    (request) => certificates.set(request.body.cert, request.body.key),
  );

  app.post('/cert/reset', () => certificates.reset());
}
