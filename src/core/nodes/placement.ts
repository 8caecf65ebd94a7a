import { AppvisorError } from '../errors/index.js';

/** A node as placement weighs it. */
export interface PlacementCandidate {
  id: string;
  host: string;
  port: number;
  up: boolean;
  /** Instances it owns now. */
  instances: number;
  capacity: number;
  /** Whether the app is installed on it. */
  hasApp: boolean;
  /** Drained for maintenance: it takes no instance. */
  draining?: boolean;
}

/** Where an instance goes: a node, its address, and whether it is the one deciding. */
export interface Placement {
  node: string;
  host: string;
  port: number;
  self: boolean;
}

/**
 * The node a new instance of `app` goes to. Pinned (`--node`): that node, which must be up,
 * have the app and have room. Otherwise the node with the fewest instances among those that
 * are up, have the app and have room; on a tie this node (no call to make), then by id.
 */
export function choosePlacement(
  candidates: readonly PlacementCandidate[],
  app: string,
  self: string,
  pinned?: string,
): Placement {
  const at = (c: PlacementCandidate): Placement => ({
    node: c.id,
    host: c.host,
    port: c.port,
    self: c.id === self,
  });
  if (pinned !== undefined) {
    const node = candidates.find((c) => c.id === pinned);
    if (!node) throw new AppvisorError('NODE_NOT_FOUND', `no node ${pinned} is registered`);
    if (!node.up) throw new AppvisorError('NODE_UNREACHABLE', `node ${pinned} is not up`);
    if (node.draining) {
      throw new AppvisorError('NODE_FULL', `node ${pinned} is drained (appvisor node undrain)`);
    }
    if (!node.hasApp) {
      throw new AppvisorError('APP_NOT_FOUND', `app ${app} is not installed on node ${pinned}`);
    }
    if (node.instances >= node.capacity) {
      throw new AppvisorError(
        'NODE_FULL',
        `node ${pinned} owns ${node.instances} instances, its capacity (cluster.capacity)`,
      );
    }
    return at(node);
  }
  const fit = candidates
    .filter((c) => c.up && !c.draining && c.hasApp && c.instances < c.capacity)
    .sort(
      (a, b) =>
        a.instances - b.instances ||
        Number(b.id === self) - Number(a.id === self) ||
        a.id.localeCompare(b.id),
    );
  const best = fit[0];
  if (best) return at(best);
  if (!candidates.some((c) => c.up && c.hasApp)) {
    throw new AppvisorError('APP_NOT_FOUND', `app ${app} is not installed on any node that is up`);
  }
  throw new AppvisorError(
    'NODE_FULL',
    `every node that is up and has app ${app} owns as many instances as its capacity`,
  );
}
