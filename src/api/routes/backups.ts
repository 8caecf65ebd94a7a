import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { secret, text } from '../schemas.js';
import type {
  BackupCreateBody,
  BackupList,
  BackupRestoreBody,
  BackupScheduleBody,
} from '../types.js';

const passphrase = secret(1024, 1);

/** Backups: make one, list them, restore one, the schedule. */
export function backupRoutes(app: FastifyInstance, context: ApiContext): void {
  const { backups } = context;

  app.get<{ Querystring: { instance?: string } }>(
    '/backups',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { instance: text(200) },
          additionalProperties: false,
        },
      },
    },
    async (request): Promise<BackupList> => ({
      backups: await backups.list(
        request.query.instance === undefined ? {} : { instance: request.query.instance },
      ),
    }),
  );

  app.post<{ Body: BackupCreateBody }>(
    '/backups',
    {
      schema: {
        body: {
          type: 'object',
          required: ['instance'],
          properties: {
            instance: text(200),
            template: text(500),
            slots: { type: 'integer', minimum: 1, maximum: 1000 },
            passphrase,
            verify: { type: 'boolean' },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { instance, ...options } = request.body;
      const entry = await backups.create(instance, options);
      void reply.code(201);
      return entry;
    },
  );

  app.post<{ Body: BackupRestoreBody }>(
    '/backups/restore',
    {
      schema: {
        body: {
          type: 'object',
          required: ['archive'],
          properties: { archive: text(4096), into: text(200), as: text(200), passphrase },
          additionalProperties: false,
        },
      },
    },
    (request) => {
      const { archive, ...options } = request.body;
      return backups.restore(archive, options);
    },
  );

  app.get('/backups/schedule', () => backups.schedule());

  app.put<{ Body: BackupScheduleBody }>(
    '/backups/schedule',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            cron: { ...text(200), type: ['string', 'null'] },
            template: text(500),
            slots: { type: 'integer', minimum: 1, maximum: 1000 },
            keep: { type: 'integer', minimum: 0, maximum: 10000 },
            verify: { type: 'boolean' },
          },
          additionalProperties: false,
        },
      },
    },
    (request) => backups.setSchedule(request.body),
  );
}
