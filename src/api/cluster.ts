/**
 * The admin API on a node of a cluster (docs/cluster.md): a call about an instance another node
 * owns is passed to that node and its answer given back as it is, so that every node's API
 * (and the CLI and UI on it) acts on the whole platform.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppvisorError } from '../core/errors/index.js';
import type { ApiContext } from './context.js';
import type { ApiCluster } from './services.js';
import { passedOnHeader, type Placement } from '../core/nodes/index.js';
import { apiPrefix } from './prefix.js';

/**
 * Whether this call was passed on by another node (see {@link passedOnHeader}): it is then
 * answered here, never passed on again.
 */
export function passedOn(request: FastifyRequest): boolean {
  return request.headers[passedOnHeader] === '1';
}

/** The instance `:id` of a route's path. */
const instanceParam = (request: FastifyRequest) => (request.params as { id?: string }).id;

/**
 * A route's preHandler: when another node owns the instance the call is about (`:id`, or what
 * `instanceOf` reads), its answer is this call's. An owner that is not up is
 * `NODE_UNREACHABLE` (503); an instance no node owns goes on to the route, which answers
 * `INSTANCE_NOT_FOUND`.
 */
export function atOwner(
  context: ApiContext,
  instanceOf: (request: FastifyRequest) => string | undefined = instanceParam,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const cluster = context.cluster;
    if (!cluster || passedOn(request)) return;
    const id = instanceOf(request);
    if (id === undefined) return;
    const owner = await cluster.ownerOf(id);
    if (!owner || owner.self) return;
    if (!owner.up) {
      throw new AppvisorError(
        'NODE_UNREACHABLE',
        `instance ${id} is on node ${owner.node}, which is not up`,
      );
    }
    const answer = await cluster.call(
      owner,
      request.method,
      request.url.slice(apiPrefix.length),
      request.body ?? undefined,
    );
    await reply.code(answer.status).send(answer.body);
  };
}

/** Makes a node bring its instances in line with the store now: this one, or another by a call. */
async function reconcileAt(cluster: ApiCluster, at: Placement): Promise<void> {
  if (at.self) {
    await cluster.reconcile();
    return;
  }
  const answer = await cluster.call(at, 'POST', '/nodes/reconcile');
  if (answer.status !== 200) {
    const body = answer.body as { code?: string; message?: string };
    throw new AppvisorError(
      'NODE_UNREACHABLE',
      `node ${at.node} did not take over: ${body.code ?? answer.status} ${body.message ?? ''}`,
    );
  }
}

/**
 * Moves an instance to node `to` (live: its owner stops it, then `to` starts it; clients
 * reconnect): checked as a pinned placement (up, has the app, has room, not drained). The
 * database is shared; the data folder stays behind (docs/cluster.md).
 */
export async function moveInstance(
  cluster: ApiCluster,
  id: string,
  to: string,
): Promise<{ from: string; to: string }> {
  const owner = await cluster.ownerOf(id);
  if (!owner) throw new AppvisorError('INSTANCE_NOT_FOUND', `no instance "${id}"`);
  if (owner.node === to) return { from: owner.node, to };
  const target = await cluster.placement(owner.app, to);
  if (!(await cluster.assign(id, owner.node, target.node))) {
    throw new AppvisorError('INSTANCE_MOVED', `instance ${id} changed its node meanwhile`);
  }
  // The old owner lets go first (a node that is not up lets go when it comes back).
  if (owner.up) await reconcileAt(cluster, owner);
  await reconcileAt(cluster, target);
  return { from: owner.node, to: target.node };
}
