/**
 * The admin API on a node of a cluster (docs/cluster.md): a call about an instance another node
 * owns is passed to that node and its answer given back as it is, so that every node's API
 * (and the CLI and UI on it) acts on the whole platform.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppvisorError } from '../core/errors/index.js';
import type { ApiContext } from './context.js';
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
