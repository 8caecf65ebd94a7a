/**
 * The admin API on a node of a cluster (docs/cluster.md): a call about an instance another node
 * owns is passed to that node and its answer given back as it is, so that every node's API
 * (and the CLI and UI on it) acts on the whole platform.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppvisorError } from '../core/errors/index.js';
import type { ApiContext } from './context.js';
import type { ApiCluster } from './services.js';
import { passedOnHeader } from '../core/nodes/index.js';
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
    if (owner) await passToOwner(context, id, owner, request, reply);
  };
}

/**
 * Passes a call about instance `id` to its owner (nothing when this node owns it):
 * `NODE_UNREACHABLE` when the owner is not up.
 */
export async function passToOwner(
  context: ApiContext,
  id: string,
  owner: NonNullable<Awaited<ReturnType<ApiCluster['ownerOf']>>>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (owner.self) return;
  if (!owner.up) {
    throw new AppvisorError(
      'NODE_UNREACHABLE',
      `instance ${id} is on node ${owner.node}, which is not up`,
    );
  }
  await passTo(context, owner, request, reply);
}

/**
 * Answers a call with another node's answer to it: the same method, path and body, passed on
 * as a signed call (see {@link passedOn}).
 */
export async function passTo(
  context: ApiContext,
  at: Parameters<ApiCluster['call']>[0],
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const answer = await context.cluster!.call(
    at,
    request.method,
    request.url.slice(apiPrefix.length),
    request.body ?? undefined,
  );
  await reply.code(answer.status).send(answer.body);
}

/** Another node, as {@link askEveryNode} answers about it. */
export type Peer = Awaited<ReturnType<ApiCluster['peers']>>[number];

/**
 * Each other node's answer to a GET of `path` (below the API prefix), asked at once, as `read`
 * takes it from the JSON body; `body` is undefined for a node that is not up or gave no 200
 * answer (the caller says so).
 */
export async function askEveryNode<T>(
  cluster: ApiCluster,
  path: string,
  read: (body: unknown) => T,
): Promise<{ peer: Peer; body: T | undefined }[]> {
  const peers = await cluster.peers();
  return Promise.all(
    peers.map(async (peer) => {
      if (!peer.up) return { peer, body: undefined };
      try {
        const answer = await cluster.call(peer, 'GET', path);
        return { peer, body: answer.status === 200 ? read(answer.body) : undefined };
      } catch {
        return { peer, body: undefined };
      }
    }),
  );
}
