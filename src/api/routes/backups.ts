import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppvisorError } from '../../core/errors/index.js';
import { askEveryNode, atOwner, passedOn, passTo, passToOwner } from '../cluster.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import {
  backupCreateContract,
  backupListContract,
  backupRestoreContract,
  backupRunningContract,
  backupScheduleContract,
  type backupRestoreBody,
} from '../contracts.js';
import type { BackupList, BackupsRunning } from '../types.js';
import type { z } from 'zod';
import { backupFileRoutes } from './backup-files.js';

/**
 * Where a restore runs on a cluster. An archive on a remote target: at the owner of the
 * instance it replaces, or here for a new one. An archive in a node's backup folder (or on its
 * disk: `node`, by default the node asked): at that node, which must own the instance it
 * replaces (BACKUP_ON_OTHER_NODE otherwise: the folder's files would land on the wrong disk).
 */
function restoreAt(context: ApiContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const cluster = context.cluster;
    if (!cluster || passedOn(request)) return;
    const body = request.body as z.infer<typeof backupRestoreBody>;
    const holder = body.target === undefined ? (body.node ?? cluster.self) : undefined;
    if (body.into !== undefined) {
      const owner = await cluster.ownerOf(body.into);
      if (!owner) return; // answered here: INSTANCE_NOT_FOUND
      if (holder !== undefined && holder !== owner.node) {
        throw new AppvisorError(
          'BACKUP_ON_OTHER_NODE',
          `the archive is on node ${holder} and instance ${body.into} on node ${owner.node}: move the instance there first (instance move ${body.into} --node ${holder}), or restore from a remote target`,
        );
      }
      await passToOwner(context, body.into, owner, request, reply);
      return;
    }
    if (holder === undefined || holder === cluster.self) return;
    const at = (await cluster.peers()).find((peer) => peer.node === holder);
    if (!at) throw new AppvisorError('NODE_NOT_FOUND', `no node ${holder} is registered`);
    if (!at.up) throw new AppvisorError('NODE_UNREACHABLE', `node ${holder} is not up`);
    await passTo(context, at, request, reply);
  };
}

/** Backups: make one, list them, restore one, the schedule, download and upload one. */
export function backupRoutes(app: FastifyInstance, context: ApiContext): void {
  const { backups } = context;
  backupFileRoutes(app, context);

  app.get<RouteOf<typeof backupListContract>>(
    '/backups',
    { schema: backupListContract.schema },
    async (request): Promise<BackupList> => {
      const { instance, target, local } = request.query;
      const own = await backups.list({
        ...(instance === undefined ? {} : { instance }),
        ...(target === undefined ? {} : { target }),
      });
      // A remote target is the platform's: every node lists the same archives there.
      const cluster = context.cluster;
      if (!cluster || target !== undefined) return { backups: own };
      const mine = own.map((entry) => ({ ...entry, node: cluster.self }));
      if (local === true || passedOn(request)) return { backups: mine };
      const query = new URLSearchParams({ local: 'true', ...(instance ? { instance } : {}) });
      const answers = await askEveryNode(
        cluster,
        `/backups?${query.toString()}`,
        (body) => (body as BackupList).backups,
      );
      const all = [...mine, ...answers.flatMap((answer) => answer.body ?? [])].sort(
        (a, b) => b.modifiedAt.localeCompare(a.modifiedAt) || a.file.localeCompare(b.file),
      );
      const unanswered = answers.filter((a) => a.body === undefined).map((a) => a.peer.node);
      return { backups: all, ...(unanswered.length > 0 ? { unanswered } : {}) };
    },
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
    { schema: backupRestoreContract.schema, preHandler: restoreAt(context) },
    (request) => {
      const { archive, node, ...options } = request.body;
      // Here (after restoreAt): the archive must be on this node.
      const cluster = context.cluster;
      if (node !== undefined && options.target === undefined && cluster && node !== cluster.self) {
        throw new AppvisorError('BAD_REQUEST', `the archive is on node ${node}, not this one`, {
          field: 'node',
        });
      }
      return backups.restore(archive, options);
    },
  );

  app.get<RouteOf<typeof backupRunningContract>>(
    '/backups/running',
    { schema: backupRunningContract.schema },
    async (request): Promise<BackupsRunning> => {
      const cluster = context.cluster;
      if (!cluster) return { operations: backups.running() };
      const mine = backups.running().map((op) => ({ ...op, node: cluster.self }));
      if (request.query.local === true || passedOn(request)) return { operations: mine };
      const answers = await askEveryNode(
        cluster,
        '/backups/running?local=true',
        (body) => (body as BackupsRunning).operations,
      );
      const all = [...mine, ...answers.flatMap((answer) => answer.body ?? [])];
      return { operations: all.sort((a, b) => a.startedAt.localeCompare(b.startedAt)) };
    },
  );

  app.get('/backups/schedule', () => backups.schedule());

  app.put<RouteOf<typeof backupScheduleContract>>(
    '/backups/schedule',
    { schema: backupScheduleContract.schema },
    (request) => backups.setSchedule(request.body),
  );
}
