import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { alarmHistoryContract } from '../contracts.js';
import type { AlarmHistoryReport, AlarmsReport, DiskReport } from '../types.js';

/** Alarms, the disk reserve, and the diagnostics archive. */
export function alarmRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/alarms', async (): Promise<AlarmsReport> => ({
    alarms: await context.alarms.listed(),
  }));

  app.get<RouteOf<typeof alarmHistoryContract>>(
    '/alarms/history',
    { schema: alarmHistoryContract.schema },
    async (request): Promise<AlarmHistoryReport> => ({
      history: await context.alarms.history(request.query.limit),
    }),
  );

  app.get('/disk', (): Promise<DiskReport> => context.disk.report());

  app.post('/disk/release', async (): Promise<DiskReport> => {
    const report = await context.disk.release();
    // Free space may end the alarm at once.
    await context.disk.check();
    return report;
  });

  app.get('/diagnostics', async (_request, reply) => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    void reply
      .header('content-type', 'application/gzip')
      .header('content-disposition', `attachment; filename="appvisor-diagnostics-${stamp}.tar.gz"`);
    return reply.send(await context.diagnostics());
  });
}
