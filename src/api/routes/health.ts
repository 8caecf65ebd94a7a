import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { eventsContract } from '../contracts.js';
import type { EventsReport, StatusReport } from '../types.js';

/** Health (public), status and events. */
export function statusRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/health', { config: { public: true } }, (_request, reply) => {
    const health = context.health();
    void reply.code(health.status === 'ok' || health.status === 'degraded' ? 200 : 503);
    return health;
  });

  app.get('/status', (): Promise<StatusReport> => context.status());

  app.get<RouteOf<typeof eventsContract>>(
    '/events',
    { schema: eventsContract.schema },
    async (request): Promise<EventsReport> => ({
      events: await context.events.list(request.query.limit),
    }),
  );
}
