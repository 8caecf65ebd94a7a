import type { FastifyInstance } from 'fastify';
import { pbxLinkOf, type InstanceView } from '../../core/instances/index.js';
import type { ApiContext } from '../context.js';
import type { RouteOf } from '../contract.js';
import {
  idContract,
  instanceCreateContract,
  instanceListContract,
  instanceLoginContract,
  instanceShowContract,
  instanceUpdateContract,
  instanceVacuumContract,
  traceContract,
} from '../contracts.js';

/**
 * The view with its PBX App-object link, on the platform's DNS name. Without it when the
 * setting cannot be read (the store is away): a link on a guessed name would mislead.
 */
async function withLink(context: ApiContext, view: InstanceView): Promise<InstanceView> {
  const settings = await context.settings.get().catch(() => undefined);
  return settings === undefined ? view : { ...view, link: pbxLinkOf(view, settings.dnsName) };
}

/** Instances: create, list, show, set, trace, admin login, vacuum, delete. */
export function instanceRoutes(app: FastifyInstance, context: ApiContext): void {
  const { instances } = context;

  app.get<RouteOf<typeof instanceListContract>>(
    '/instances',
    { schema: instanceListContract.schema },
    (request) => {
      const { app: appId, sort } = request.query;
      return {
        instances: instances.list({
          ...(appId === undefined ? {} : { app: appId }),
          ...(sort === undefined ? {} : { sort }),
        }),
      };
    },
  );

  app.post<RouteOf<typeof instanceCreateContract>>(
    '/instances',
    { schema: instanceCreateContract.schema },
    async (request, reply) => {
      const { app: appId, id, ...options } = request.body;
      const view = await instances.create(appId, id, options);
      void reply.code(201);
      return withLink(context, view);
    },
  );

  app.get<RouteOf<typeof instanceShowContract>>(
    '/instances/:id',
    { schema: instanceShowContract.schema },
    (request) =>
      withLink(
        context,
        instances.show(request.params.id, { reveal: request.query.reveal ?? false }),
      ),
  );

  app.patch<RouteOf<typeof instanceUpdateContract>>(
    '/instances/:id',
    { schema: instanceUpdateContract.schema },
    async (request) => withLink(context, await instances.set(request.params.id, request.body)),
  );

  app.post<RouteOf<typeof traceContract>>(
    '/instances/:id/trace',
    { schema: traceContract.schema },
    async (request) =>
      withLink(context, await instances.trace(request.params.id, request.body.changes)),
  );

  app.post<RouteOf<typeof instanceLoginContract>>(
    '/instances/:id/login',
    { schema: instanceLoginContract.schema },
    (request) => instances.adminLogin(request.params.id, request.body.challenge),
  );

  app.post<RouteOf<typeof instanceVacuumContract>>(
    '/instances/:id/vacuum',
    { schema: instanceVacuumContract.schema },
    (request) => instances.vacuum(request.params.id, request.body),
  );

  app.post<RouteOf<typeof idContract>>(
    '/instances/:id/open',
    { schema: idContract.schema },
    (request) => {
      // The instance must exist; the grant lets its page ask the front for admin logins.
      instances.show(request.params.id);
      return context.grants.issue(request.params.id);
    },
  );

  app.delete<RouteOf<typeof idContract>>(
    '/instances/:id',
    { schema: idContract.schema },
    async (request) => {
      await instances.delete(request.params.id);
      // A later instance of the same id (perhaps of another app) is not the one granted.
      context.grants.revoke(request.params.id);
      return { ok: true };
    },
  );
}
