import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import { backupTargetContract, backupTargetNameContract } from '../contracts.js';
import type { BackupTargetList } from '../types.js';

/**
 * Remote backup targets: list, add, remove, test. No answer ever holds a credential: a
 * target's view says only whether it has them.
 */
export function backupTargetRoutes(app: FastifyInstance, context: ApiContext): void {
  const { backups } = context;

  app.get('/backup-targets', async (): Promise<BackupTargetList> => ({
    targets: await backups.listTargets(),
  }));

  app.post<RouteOf<typeof backupTargetContract>>(
    '/backup-targets',
    { schema: backupTargetContract.schema },
    async (request, reply) => {
      const target = await backups.addTarget(request.body);
      void reply.code(201);
      return target;
    },
  );

  app.delete<RouteOf<typeof backupTargetNameContract>>(
    '/backup-targets/:name',
    { schema: backupTargetNameContract.schema },
    async (request) => {
      await backups.removeTarget(request.params.name);
      return { ok: true };
    },
  );

  app.post<RouteOf<typeof backupTargetNameContract>>(
    '/backup-targets/:name/test',
    { schema: backupTargetNameContract.schema },
    (request) => backups.testTarget(request.params.name),
  );
}
