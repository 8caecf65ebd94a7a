import { AppvisorError } from '../errors/index.js';
import type { AppSync } from './app-sync.js';
import { peerResult } from './cluster-instances.js';
import type { NodeState } from './admission.js';
import type { NodeMembership } from './membership.js';
import { callPeer, type PeerAnswer, type PeerCallSigner } from './peer-calls.js';
import type { Placement } from './placement.js';

/** Where each instance of a drained node went, and those that could not go. */
export interface DrainResult {
  node: string;
  moved: { id: string; node: string }[];
  failed: { id: string; code: string; message: string }[];
}

/** Options of {@link ClusterOps}. */
export interface ClusterOpsOptions {
  membership: Pick<
    NodeMembership,
    'placement' | 'ownerOf' | 'peers' | 'assign' | 'setDraining' | 'instancesOf'
  >;
  signer: PeerCallSigner;
  appSync: Pick<AppSync, 'forget'>;
  /** This node's id. */
  self: string;
  /** Brings this node's instances and routes in line with the store now. */
  reconcile: () => Promise<void>;
  /**
   * The remote target the backup schedule sends archives to (null: none). A move backs the
   * instance up there first, so that its new node brings its data folder from that archive.
   */
  backupTarget?: () => string | null;
  /** Backs an instance this node owns up to a remote target. */
  backUp?: (instance: string, target: string) => Promise<unknown>;
}

/**
 * What one node does across the cluster for the admin (docs/cluster.md): signed calls to the
 * other nodes, moves and drains. The API passes calls on with it; the orchestration is here.
 */
export class ClusterOps {
  readonly #options: ClusterOpsOptions;

  constructor(options: ClusterOpsOptions) {
    this.#options = options;
  }

  get self(): string {
    return this.#options.self;
  }

  placement(app: string, pinned?: string): Promise<Placement> {
    return this.#options.membership.placement(app, pinned);
  }

  ownerOf(instance: string): Promise<(Placement & { up: boolean; app: string }) | undefined> {
    return this.#options.membership.ownerOf(instance);
  }

  peers(): Promise<(Placement & { up: boolean; state: NodeState; instances: number })[]> {
    return this.#options.membership.peers();
  }

  /** Brings this node's instances and routes in line with the store now. */
  reconcile(): Promise<void> {
    return this.#options.reconcile();
  }

  /** Removes the platform's package of an app the admin uninstalled on this node. */
  forgetApp(id: string): Promise<void> {
    return this.#options.appSync.forget(id);
  }

  /** Calls a node's API (`path` below the API prefix), signed; NODE_UNREACHABLE if it is not. */
  call(at: Placement, method: string, path: string, body?: unknown): Promise<PeerAnswer> {
    return callPeer(this.#options.signer, at, method, path, body);
  }

  /**
   * Trades a grant node `node` issued (an instance page's admin login, see the front's
   * `/.appvisor/login`) on that node, which holds it. UNAUTHORIZED when it is not a node up.
   */
  async exchangeGrant(node: string, token: string, challenge: string): Promise<object> {
    const peer = (await this.peers()).find((candidate) => candidate.node === node);
    if (!peer?.up) {
      throw new AppvisorError(
        'UNAUTHORIZED',
        `the grant is unknown or expired (its node ${node} is not up): open the instance from the admin UI again`,
      );
    }
    const answer = await this.call(peer, 'POST', '/grants/exchange', { token, challenge });
    return peerResult(node, answer) as object;
  }

  /** Makes a node bring its instances in line with the store now: this one, or another. */
  async #reconcileAt(at: Placement): Promise<void> {
    if (at.self) {
      await this.reconcile();
      return;
    }
    const answer = await this.call(at, 'POST', '/nodes/reconcile');
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
   * database is shared; the data folder goes by way of a fresh backup on the schedule's
   * remote target, when it has one (else it stays behind).
   */
  async move(id: string, to: string): Promise<{ from: string; to: string }> {
    const { membership } = this.#options;
    const owner = await membership.ownerOf(id);
    if (!owner) throw new AppvisorError('INSTANCE_NOT_FOUND', `no instance "${id}"`);
    if (owner.node === to) return { from: owner.node, to };
    const target = await membership.placement(owner.app, to);
    const archiveTo = this.#options.backupTarget?.() ?? null;
    if (owner.up && archiveTo !== null) await this.#backUpAt(owner, id, archiveTo);
    if (!(await membership.assign(id, owner.node, target.node))) {
      throw new AppvisorError('INSTANCE_MOVED', `instance ${id} changed its node meanwhile`);
    }
    // The old owner lets go first (a node that is not up lets go when it comes back).
    if (owner.up) await this.#reconcileAt(owner);
    await this.#reconcileAt(target);
    return { from: owner.node, to: target.node };
  }

  /**
   * Backs instance `id` up on its owner to remote target `target`: the archive its new node
   * brings the data folder from (writes after it are lost: the instance runs until it moves).
   */
  async #backUpAt(owner: Placement, id: string, target: string): Promise<void> {
    if (owner.self) {
      await this.#options.backUp?.(id, target);
      return;
    }
    peerResult(owner.node, await this.call(owner, 'POST', '/backups', { instance: id, target }));
  }

  /**
   * Marks a node drained (placement gives it no instance) and moves each of its instances to
   * the node placement chooses; those that cannot go are listed with why.
   */
  async drain(node: string): Promise<DrainResult> {
    const { membership } = this.#options;
    await membership.setDraining(node, true);
    const moved: DrainResult['moved'] = [];
    const failed: DrainResult['failed'] = [];
    for (const id of await membership.instancesOf(node)) {
      try {
        const owner = await membership.ownerOf(id);
        if (!owner) continue;
        const to = await membership.placement(owner.app);
        moved.push({ id, node: (await this.move(id, to.node)).to });
      } catch (error) {
        const known = error instanceof AppvisorError ? error : undefined;
        failed.push({ id, code: known?.code ?? 'INTERNAL', message: (error as Error).message });
      }
    }
    return { node, moved, failed };
  }

  /** Lets a drained node take instances again. */
  undrain(node: string): Promise<void> {
    return this.#options.membership.setDraining(node, false);
  }
}
