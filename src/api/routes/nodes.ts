import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { idContract } from '../contracts.js';
import type { NodesReport } from '../types.js';

/** The nodes of the platform: who is up, down or stopped, and forgetting one that left. */
export function nodeRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/nodes', (): Promise<NodesReport> => context.nodes.report());

  app.delete<RouteOf<typeof idContract>>(
    '/nodes/:id',
    { schema: idContract.schema },
    async (request) => {
      await context.nodes.remove(request.params.id);
      return { ok: true };
    },
  );
}
