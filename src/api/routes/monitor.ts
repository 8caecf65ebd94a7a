import type { FastifyInstance } from 'fastify';
import { AppvisorError } from '../../core/errors/index.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { monitorHistoryContract } from '../contracts.js';
import type { MonitorHistory, MonitorSnapshot } from '../types.js';

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
  app.get('/monitor', (): Promise<MonitorSnapshot> => context.monitor.current());

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

  app.get('/metrics', async (_request, reply) => {
    const text = await context.metrics.render();
    return reply.type(context.metrics.contentType).send(text);
  });
}
