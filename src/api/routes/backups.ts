import type { FastifyInstance } from 'fastify';
import { atOwner } from '../cluster.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import {
  backupCreateContract,
  backupListContract,
  backupRestoreContract,
  backupScheduleContract,
} from '../contracts.js';
import type { BackupList, BackupsRunning } from '../types.js';
import { backupFileRoutes } from './backup-files.js';

/** Backups: make one, list them, restore one, the schedule, download and upload one. */
export function backupRoutes(app: FastifyInstance, context: ApiContext): void {
  const { backups } = context;
  backupFileRoutes(app, context);

  app.get<RouteOf<typeof backupListContract>>(
    '/backups',
    { schema: backupListContract.schema },
    async (request): Promise<BackupList> => ({
      backups: await backups.list({
        ...(request.query.instance === undefined ? {} : { instance: request.query.instance }),
        ...(request.query.target === undefined ? {} : { target: request.query.target }),
      }),
    }),
  );

  app.post<RouteOf<typeof backupCreateContract>>(
    '/backups',
    {
      schema: backupCreateContract.schema,
      // On a cluster the instance's owner backs it up, into its own folder or the target.
      preHandler: atOwner(context, (request) => (request.body as { instance: string }).instance),
    },
    async (request, reply) => {
      const { instance, ...options } = request.body;
      const entry = await backups.create(instance, options);
      void reply.code(201);
      return entry;
    },
  );

  app.post<RouteOf<typeof backupRestoreContract>>(
    '/backups/restore',
    { schema: backupRestoreContract.schema },
    (request) => {
      const { archive, ...options } = request.body;
      return backups.restore(archive, options);
    },
  );

  app.get('/backups/running', (): BackupsRunning => ({ operations: backups.running() }));

  app.get('/backups/schedule', () => backups.schedule());

  app.put<RouteOf<typeof backupScheduleContract>>(
    '/backups/schedule',
    { schema: backupScheduleContract.schema },
    (request) => backups.setSchedule(request.body),
  );
}
