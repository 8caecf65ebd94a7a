/**
 * The instances of the whole platform for a part that acts on many of them at once (the
 * configuration file's export and import): listed from every node, created where placement
 * says, and changed or deleted by their owners, through the same signed calls the API passes
 * an admin's calls on with (docs/cluster.md, "Instances on several nodes").
 */
import { AppvisorError, isErrorCode, type ErrorCode } from '../errors/index.js';
import type { InstanceService, InstanceView } from '../instances/index.js';
import type { ClusterOps } from './cluster-ops.js';
import type { PeerAnswer } from './peer-calls.js';
import type { Placement } from './placement.js';

/** What one node gave of its instances: its views, or why there are none to be had. */
export interface NodeListing {
  node: string;
  views?: InstanceView[];
  /** Set when the node's instances could not be read. */
  missing?: string;
}

/**
 * Every node's instances as one list by id, each view with its node. A node whose instances
 * could not be read fails the whole list (NODE_UNREACHABLE naming each such node): a list
 * missing them would, written to a file and imported, look like a platform without them.
 * An instance met twice (it moved while the nodes were asked) is kept once.
 */
export function mergeListings(listings: readonly NodeListing[]): InstanceView[] {
  const missing = listings.filter((listing) => listing.missing !== undefined);
  if (missing.length > 0) {
    throw new AppvisorError(
      'NODE_UNREACHABLE',
      `the instances of ${missing.map((l) => `node ${l.node} (${l.missing})`).join(', ')} cannot be read; every node that owns instances must be up and answer`,
    );
  }
  const byId = new Map<string, InstanceView>();
  for (const listing of listings) {
    for (const view of listing.views ?? []) {
      if (!byId.has(view.id)) byId.set(view.id, { ...view, node: view.node ?? listing.node });
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * A node's answer as the value it carries, or as the error it says: the owner's own code and
 * message, so that an import fails with the code it would have had on the owner. A code this
 * node does not know (a newer node's) is INTERNAL, naming it.
 */
export function peerResult(node: string, answer: PeerAnswer): unknown {
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  const body = (answer.body ?? {}) as { code?: unknown; message?: unknown; field?: unknown };
  const message = typeof body.message === 'string' ? body.message : `answered ${answer.status}`;
  const field = typeof body.field === 'string' ? { field: body.field } : {};
  if (isErrorCode(body.code)) throw new AppvisorError(body.code, message, field);
  throw new AppvisorError(
    'INTERNAL',
    `node ${node} answered ${String(body.code)}: ${message}`,
    field,
  );
}

/** Why a node asked for cannot take a new instance, as placement refuses a pin. */
const pinRefusals = new Set<ErrorCode>([
  'NODE_NOT_FOUND',
  'NODE_UNREACHABLE',
  'NODE_FULL',
  'APP_NOT_FOUND',
]);

/** Whether `error` is placement refusing a pinned node (so that it may choose another). */
export function isPinRefusal(error: unknown): error is AppvisorError {
  return error instanceof AppvisorError && pinRefusals.has(error.code);
}

/** Options of {@link ClusterInstances}. */
export interface ClusterInstancesOptions {
  /** This node's own instances. */
  local: Pick<InstanceService, 'list' | 'show' | 'create' | 'set' | 'trace' | 'delete'>;
  cluster: Pick<ClusterOps, 'self' | 'peers' | 'ownerOf' | 'placement' | 'call'>;
}

/** What a new instance is made with (as `POST /instances` takes it). */
export interface ClusterNewInstance {
  domain?: string;
  path?: string;
  password?: string;
}

const idPath = (id: string) => `/instances/${encodeURIComponent(id)}`;

/**
 * The instances of every node, acted on where they live. A node asked for a new instance is a
 * wish: when it cannot take it (not a node of this platform, not up, drained, full, without
 * the app), placement chooses, as for an instance made without one.
 */
export class ClusterInstances {
  readonly #local: ClusterInstancesOptions['local'];
  readonly #cluster: ClusterInstancesOptions['cluster'];

  constructor(options: ClusterInstancesOptions) {
    this.#local = options.local;
    this.#cluster = options.cluster;
  }

  #own(view: InstanceView): InstanceView {
    return { ...view, node: this.#cluster.self };
  }

  /**
   * Every instance of the platform, each with its node. NODE_UNREACHABLE when a node that is
   * up does not answer, or a node that is not up owns instances.
   */
  async list(): Promise<InstanceView[]> {
    const self: NodeListing = {
      node: this.#cluster.self,
      views: this.#local.list().map((view) => this.#own(view)),
    };
    const peers = await this.#cluster.peers();
    const others = await Promise.all(
      peers.map(async (peer): Promise<NodeListing> => {
        if (!peer.up) {
          return peer.instances > 0
            ? { node: peer.node, missing: `not up, owns ${peer.instances} instances` }
            : { node: peer.node, views: [] };
        }
        try {
          const answer = await this.#cluster.call(peer, 'GET', '/instances?local=true');
          const { instances } = peerResult(peer.node, answer) as { instances: InstanceView[] };
          return { node: peer.node, views: instances };
        } catch (error) {
          const known = error instanceof AppvisorError ? `${error.code}: ` : '';
          return { node: peer.node, missing: `${known}${(error as Error).message}` };
        }
      }),
    );
    return mergeListings([self, ...others]);
  }

  /** The instance's view, from its owner. */
  show(id: string, options: { reveal?: boolean } = {}): Promise<InstanceView> {
    const query = options.reveal ? '?reveal=true' : '';
    return this.#view(
      id,
      () => this.#local.show(id, options),
      (at) => this.#cluster.call(at, 'GET', `${idPath(id)}${query}`),
    );
  }

  /**
   * Makes an instance on the node placement gives it: `where.node` when that node can take
   * it, else the node placement chooses.
   */
  async create(
    app: string,
    id: string,
    options: ClusterNewInstance,
    where: { node?: string } = {},
  ): Promise<InstanceView> {
    const at = await this.#place(app, where.node);
    if (at.self) return this.#own(await this.#local.create(app, id, options));
    const answer = await this.#cluster.call(at, 'POST', '/instances', {
      app,
      id,
      ...options,
      node: at.node,
    });
    return peerResult(at.node, answer) as InstanceView;
  }

  /** Changes an instance's settings, by its owner. */
  set(id: string, change: Parameters<InstanceService['set']>[1]): Promise<InstanceView> {
    return this.#view(
      id,
      () => this.#local.set(id, change),
      (at) => this.#cluster.call(at, 'PATCH', idPath(id), change),
    );
  }

  /** Turns trace flags on and off, by the instance's owner. */
  trace(id: string, changes: readonly string[]): Promise<InstanceView> {
    return this.#view(
      id,
      () => this.#local.trace(id, changes),
      (at) => this.#cluster.call(at, 'POST', `${idPath(id)}/trace`, { changes }),
    );
  }

  /** Deletes an instance, by its owner. */
  async delete(id: string): Promise<void> {
    const at = await this.#remoteOwner(id);
    if (!at) {
      await this.#local.delete(id);
      return;
    }
    peerResult(at.node, await this.#cluster.call(at, 'DELETE', idPath(id)));
  }

  /**
   * Whether a new instance of `app` would go to `node` now: `{node}` if so, else `{refused}`
   * with placement's reason (the instance then goes where placement chooses).
   */
  async pin(app: string, node: string): Promise<{ node?: string; refused?: string }> {
    try {
      return { node: (await this.#cluster.placement(app, node)).node };
    } catch (error) {
      if (isPinRefusal(error)) return { refused: error.message };
      throw error;
    }
  }

  async #place(app: string, node: string | undefined): Promise<Placement> {
    if (node === undefined) return this.#cluster.placement(app);
    try {
      return await this.#cluster.placement(app, node);
    } catch (error) {
      if (!isPinRefusal(error)) throw error;
      return this.#cluster.placement(app);
    }
  }

  /**
   * The owner to ask about an instance; undefined when this node answers itself: it owns the
   * instance, or no node does (its own service then says INSTANCE_NOT_FOUND). An owner that
   * is not up is NODE_UNREACHABLE, as the API says it.
   */
  async #remoteOwner(id: string): Promise<Placement | undefined> {
    const owner = await this.#cluster.ownerOf(id);
    if (!owner || owner.self) return undefined;
    if (!owner.up) {
      throw new AppvisorError(
        'NODE_UNREACHABLE',
        `instance ${id} is on node ${owner.node}, which is not up`,
      );
    }
    return owner;
  }

  /** An instance's view after `here` on this node, or `there` by its owner. */
  async #view(
    id: string,
    here: () => InstanceView | Promise<InstanceView>,
    there: (at: Placement) => Promise<PeerAnswer>,
  ): Promise<InstanceView> {
    const at = await this.#remoteOwner(id);
    if (!at) return this.#own(await here());
    return peerResult(at.node, await there(at)) as InstanceView;
  }
}
