import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { eventsContract } from '../contracts.js';
import type { EventsReport, ManagerEvent, StatusReport } from '../types.js';

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
    async (request, reply): Promise<EventsReport | PassThrough> => {
      const { limit, follow } = request.query;
      if (!follow) return { events: await context.events.list(limit) };
      // NDJSON, oldest first: the last `limit` events, then each new one as it is recorded.
      // Listening starts before the history is read, so nothing falls between the two.
      const stream = new PassThrough();
      const held: ManagerEvent[] = [];
      let live = false;
      const write = (event: ManagerEvent) => stream.write(`${JSON.stringify(event)}\n`);
      const stop = context.events.subscribe((event) => {
        if (live) write(event);
        else held.push(event);
      });
      request.raw.once('close', () => {
        stop();
        stream.end();
      });
      const history = (await context.events.list(limit)).reverse();
      const seen = new Set(history.map((event) => JSON.stringify(event)));
      for (const event of history) write(event);
      for (const event of held) if (!seen.has(JSON.stringify(event))) write(event);
      live = true;
      void reply.type('application/x-ndjson; charset=utf-8');
      return stream;
    },
  );
}
