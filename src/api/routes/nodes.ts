import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { idContract } from '../contracts.js';
import { AppvisorError } from '../../core/errors/index.js';
import type { ApiCluster } from '../services.js';
import type { DrainAnswer, NodesReport } from '../types.js';

/** The cluster, or NODE_NOT_FOUND on a platform of one node (no other node to drain to). */
function clusterOf(context: ApiContext): ApiCluster {
  if (!context.cluster) {
    throw new AppvisorError(
      'NODE_NOT_FOUND',
      'this is a platform of one node (no cluster.name): there is no other node',
    );
  }
  return context.cluster;
}

/** The nodes of the platform: who is up, down or stopped, and forgetting one that left. */
export function nodeRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/nodes', (): Promise<NodesReport> => context.nodes.report());

  // Another node asks this one to act on what the store says now (a move): let go of what it
  // lost, adopt what it was given, read the routes again.
  app.post('/nodes/reconcile', async () => {
    await context.cluster?.reconcile();
    return { ok: true };
  });

  app.post<RouteOf<typeof idContract>>(
    '/nodes/:id/drain',
    { schema: idContract.schema },
    (request): Promise<DrainAnswer> => clusterOf(context).drain(request.params.id),
  );

  app.post<RouteOf<typeof idContract>>(
    '/nodes/:id/undrain',
    { schema: idContract.schema },
    async (request) => {
      await clusterOf(context).undrain(request.params.id);
      return { ok: true };
    },
  );

  app.delete<RouteOf<typeof idContract>>(
    '/nodes/:id',
    { schema: idContract.schema },
    async (request) => {
      await context.nodes.remove(request.params.id);
      return { ok: true };
    },
  );
}
