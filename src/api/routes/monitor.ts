import type { FastifyInstance } from 'fastify';
import { AppvisorError } from '../../core/errors/index.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { askEveryNode } from '../cluster.js';
import { monitorHistoryContract, monitorScopeContract } from '../contracts.js';
import type { MonitorHistory, MonitorSnapshot, PlatformMonitor } from '../types.js';
import { platformTotals, type NodeSample } from '../../core/monitor/index.js';

/** `from`/`to` of the history: epoch ms or an ISO date. */
function instant(text: string | undefined, field: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) {
    throw new AppvisorError('BAD_REQUEST', `"${field}" is not epoch ms or an ISO date`, { field });
  }
  return value;
}

/** Current values, their history and the Prometheus text. All need a login. */
export function monitorRoutes(app: FastifyInstance, context: ApiContext): void {
  /**
   * Every node's latest sample: this one's, and each other's as it answers `GET /monitor`
   * (a node that is not up, or does not answer, has none). Only on a cluster.
   */
  const everyNode = async (): Promise<NodeSample[]> => {
    const cluster = context.cluster!;
    const [own, answers] = await Promise.all([
      context.monitor.current(),
      askEveryNode(cluster, '/monitor', (body) => body as MonitorSnapshot),
    ]);
    const samples: NodeSample[] = [
      { node: cluster.self, state: 'up', snapshot: own },
      ...answers.map(({ peer, body }) => ({ node: peer.node, state: peer.state, snapshot: body })),
    ];
    return samples.sort((a, b) => a.node.localeCompare(b.node));
  };
  const platformScope = (request: { query: { scope: 'node' | 'cluster' } }) =>
    request.query.scope === 'cluster' && context.cluster !== undefined;

  app.get<RouteOf<typeof monitorScopeContract>>(
    '/monitor',
    { schema: monitorScopeContract.schema },
    async (request): Promise<MonitorSnapshot | PlatformMonitor> => {
      if (!platformScope(request)) return context.monitor.current();
      const nodes = await everyNode();
      return { nodes, totals: platformTotals(nodes) };
    },
  );

  app.get<RouteOf<typeof monitorHistoryContract>>(
    '/monitor/history',
    { schema: monitorHistoryContract.schema },
    (request): MonitorHistory => {
      const { query } = request;
      const series = (query.series ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
      const from = instant(query.from, 'from');
      const to = instant(query.to, 'to');
      return context.monitor.history({
        series,
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(query.resolution ? { resolution: query.resolution } : {}),
      });
    },
  );

  app.get<RouteOf<typeof monitorScopeContract>>(
    '/metrics',
    { schema: monitorScopeContract.schema },
    async (request, reply) => {
      const text = platformScope(request)
        ? await context.metrics.renderPlatform(await everyNode())
        : await context.metrics.render();
      return reply.type(context.metrics.contentType).send(text);
    },
  );
}
