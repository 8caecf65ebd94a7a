import type { FastifyInstance } from 'fastify';
import { pbxLinkOf, type InstanceView } from '../../core/instances/index.js';
import { AppvisorError } from '../../core/errors/index.js';
import { askEveryNode, atOwner, passedOn } from '../cluster.js';
import type { ApiContext } from '../context.js';
import type { ApiCluster } from '../services.js';
import type { InstanceList } from '../types.js';
import type { RouteOf } from '../contract.js';
import {
  idContract,
  instanceCreateContract,
  instanceListContract,
  grantExchangeContract,
  instanceLoginContract,
  instanceMoveContract,
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

/** The view with the node that owns it, on a cluster. */
function onNode(context: ApiContext, view: InstanceView): InstanceView {
  return context.cluster ? { ...view, node: context.cluster.self } : view;
}

/**
 * The instances of every node that is up: this node's, and each other's as it answers
 * `?local=true`. A node that does not answer, or is not up and owns instances, is named in
 * `unanswered`: its instances are missing from the list.
 */
async function everyNode(
  cluster: ApiCluster,
  own: InstanceView[],
  url: string,
  sort: 'id' | 'size' | undefined,
): Promise<InstanceList> {
  const query = url.includes('?') ? `${url.slice(url.indexOf('?'))}&local=true` : '?local=true';
  const answers = await askEveryNode(
    cluster,
    `/instances${query}`,
    (body) => (body as InstanceList).instances,
  );
  const all = [...own, ...answers.flatMap((a) => a.body ?? [])];
  const size = (v: InstanceView) => (v.usage.databaseBytes ?? -1) + (v.usage.filesBytes ?? 0);
  all.sort((a, b) => (sort === 'size' ? size(b) - size(a) : 0) || a.id.localeCompare(b.id));
  // A node that is down and owns nothing is missing nothing.
  const unanswered = answers
    .filter((a) => a.body === undefined && (a.peer.up || a.peer.instances > 0))
    .map((a) => a.peer.node);
  return { instances: all, ...(unanswered.length > 0 ? { unanswered } : {}) };
}

/** Instances: create, list, show, set, trace, admin login, vacuum, delete. */
export function instanceRoutes(app: FastifyInstance, context: ApiContext): void {
  const { instances } = context;
  const owner = atOwner(context);

  app.get<RouteOf<typeof instanceListContract>>(
    '/instances',
    { schema: instanceListContract.schema },
    async (request): Promise<InstanceList> => {
      const { app: appId, sort, local } = request.query;
      const own = instances
        .list({
          ...(appId === undefined ? {} : { app: appId }),
          ...(sort === undefined ? {} : { sort }),
        })
        .map((view) => onNode(context, view));
      if (!context.cluster || local === true || passedOn(request)) return { instances: own };
      return everyNode(context.cluster, own, request.url, sort);
    },
  );

  app.post<RouteOf<typeof instanceCreateContract>>(
    '/instances',
    { schema: instanceCreateContract.schema },
    async (request, reply) => {
      const { app: appId, id, node, ...options } = request.body;
      if (context.cluster && !passedOn(request)) {
        const at = await context.cluster.placement(appId, node);
        if (!at.self) {
          const answer = await context.cluster.call(at, 'POST', '/instances', {
            ...request.body,
            node: at.node,
          });
          return reply.code(answer.status).send(answer.body);
        }
      } else if (node !== undefined && !context.cluster) {
        throw new AppvisorError(
          'NODE_NOT_FOUND',
          `this is a platform of one node (no cluster.name): leave out the node (${node})`,
        );
      }
      const view = await instances.create(appId, id, options);
      void reply.code(201);
      return withLink(context, onNode(context, view));
    },
  );

  app.get<RouteOf<typeof instanceShowContract>>(
    '/instances/:id',
    { schema: instanceShowContract.schema, preHandler: owner },
    (request) =>
      withLink(
        context,
        onNode(
          context,
          instances.show(request.params.id, { reveal: request.query.reveal ?? false }),
        ),
      ),
  );

  app.patch<RouteOf<typeof instanceUpdateContract>>(
    '/instances/:id',
    { schema: instanceUpdateContract.schema, preHandler: owner },
    async (request) =>
      withLink(context, onNode(context, await instances.set(request.params.id, request.body))),
  );

  app.post<RouteOf<typeof traceContract>>(
    '/instances/:id/trace',
    { schema: traceContract.schema, preHandler: owner },
    async (request) =>
      withLink(
        context,
        onNode(context, await instances.trace(request.params.id, request.body.changes)),
      ),
  );

  app.post<RouteOf<typeof instanceLoginContract>>(
    '/instances/:id/login',
    { schema: instanceLoginContract.schema, preHandler: owner },
    (request) => instances.adminLogin(request.params.id, request.body.challenge),
  );

  app.post<RouteOf<typeof instanceVacuumContract>>(
    '/instances/:id/vacuum',
    { schema: instanceVacuumContract.schema, preHandler: owner },
    (request) => instances.vacuum(request.params.id, request.body),
  );

  app.post<RouteOf<typeof instanceMoveContract>>(
    '/instances/:id/move',
    { schema: instanceMoveContract.schema },
    async (request) => {
      const cluster = context.cluster;
      if (!cluster) {
        throw new AppvisorError(
          'NODE_NOT_FOUND',
          'this is a platform of one node (no cluster.name): there is no node to move to',
        );
      }
      const { to } = await cluster.move(request.params.id, request.body.node);
      // The view as its new owner gives it (starting, then ready).
      const at = await cluster.ownerOf(request.params.id);
      if (!at || at.self)
        return withLink(context, onNode(context, instances.show(request.params.id)));
      const answer = await cluster.call(
        at,
        'GET',
        `/instances/${encodeURIComponent(request.params.id)}`,
      );
      if (answer.status !== 200)
        throw new AppvisorError(
          'INSTANCE_MOVED',
          `instance ${request.params.id} is on ${to} now, which did not show it`,
        );
      return answer.body;
    },
  );

  app.post<RouteOf<typeof idContract>>(
    '/instances/:id/open',
    // On a cluster the owner issues the grant: it holds it, and logs the page in.
    { schema: idContract.schema, preHandler: owner },
    (request) => {
      // The instance must exist; the grant lets its page ask the front for admin logins.
      instances.show(request.params.id);
      return context.grants.issue(request.params.id);
    },
  );

  /**
   * On a cluster, the front of the node that serves an instance's page takes the page's
   * `POST /.appvisor/login` and, for a grant another node issued, asks that node here: the
   * grant is traded by the node that holds it, as its own front would (UNAUTHORIZED when it
   * is unknown or expired). A call the admin could make anyway: the grant is the secret.
   */
  app.post<RouteOf<typeof grantExchangeContract>>(
    '/grants/exchange',
    { schema: grantExchangeContract.schema },
    (request) => {
      const instance = context.grants.instanceOf(request.body.token);
      if (instance === undefined) {
        throw new AppvisorError(
          'UNAUTHORIZED',
          'the grant is unknown or expired: open the instance from the admin UI again',
        );
      }
      return instances.adminLogin(instance, request.body.challenge);
    },
  );

  app.delete<RouteOf<typeof idContract>>(
    '/instances/:id',
    { schema: idContract.schema, preHandler: owner },
    async (request) => {
      await instances.delete(request.params.id);
      // A later instance of the same id (perhaps of another app) is not the one granted.
      context.grants.revoke(request.params.id);
      return { ok: true };
    },
  );
}
