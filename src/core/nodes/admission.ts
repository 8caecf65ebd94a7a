import { AppvisorError } from '../errors/index.js';

/** How a node stands, by its lease on the database server's clock. */
export type NodeState = 'up' | 'down' | 'stopped';

/** A node of the store as the admission sees it. */
export interface RegisteredNode {
  id: string;
  host: string;
  dataDir: string;
  state: NodeState;
}

/** What a starting node brings to its admission. */
export interface Candidate {
  id: string;
  /** `cluster.name`; null: a platform of one node. */
  clusterName: string | null;
  host: string;
  dataDir: string;
}

/** What the store holds when a node starts. */
export interface StoreSide {
  /** The platform row; null in a store no node has started on since nodes were recorded. */
  platform: { clusterName: string | null; keyOpens: boolean } | null;
  /** This node's own row, when it started on this store before. */
  self: RegisteredNode | null;
  /** Every other registered node. */
  others: readonly RegisteredNode[];
}

/** What the admission decided: the platform's name from now on. */
export interface Admitted {
  clusterName: string | null;
}

function listed(nodes: readonly RegisteredNode[]): string {
  const shown = nodes.slice(0, 3).map((n) => `${n.id} on ${n.host} (${n.state})`);
  return shown.join(', ') + (nodes.length > 3 ? ` and ${nodes.length - 3} more` : '');
}

/**
 * Whether a node may start on this store, as a table of refusals checked in order; the first
 * that applies is thrown. What is shared by a platform (the admin password, sessions,
 * settings, backup targets, the secrets sealed with one key) is shared only by nodes that say
 * so: a second manager pointed at the store by accident is refused before it writes anything.
 *
 * 1. The platform's secret key must open the store's key check (`CLUSTER_KEY_MISMATCH`).
 * 2. This node id must not be up from another data folder (`NODE_ID_IN_USE`).
 * 3. With other nodes registered, this node must name the platform's cluster
 *    (`CLUSTER_MISMATCH`); a platform of one node (no name) admits no second.
 * 4. Otherwise the node is admitted; with no other node registered it sets the platform's
 *    name (a single node becomes a cluster, or a cluster left with one node a single one).
 */
export function admit(candidate: Candidate, store: StoreSide): Admitted {
  const { platform, self, others } = store;
  if (platform && !platform.keyOpens) {
    throw new AppvisorError(
      'CLUSTER_KEY_MISMATCH',
      `the store's secrets were sealed with another secret.key than this node's; a node of a platform uses the platform's key: stop this manager, copy secret.key (mode 0600) from the data folder of a node of it into ${candidate.dataDir}, and start again`,
    );
  }
  if (
    self?.state === 'up' &&
    (self.host !== candidate.host || self.dataDir !== candidate.dataDir)
  ) {
    throw new AppvisorError(
      'NODE_ID_IN_USE',
      `node ${candidate.id} is up on ${self.host} (data folder ${self.dataDir}); is ${candidate.dataDir} a copy of its data folder? A copy that should be a node of its own needs its node-id file removed`,
    );
  }
  if (others.length === 0) return { clusterName: candidate.clusterName };
  const storeName = platform?.clusterName ?? null;
  if (candidate.clusterName === null) {
    throw new AppvisorError(
      'CLUSTER_MISMATCH',
      storeName === null
        ? `another manager uses this store: ${listed(others)}. To run them as one platform, start every node with the same cluster.name; otherwise give this manager a database server of its own`
        : `this store is the platform of cluster "${storeName}" (${listed(others)}); start with --set cluster.name=${storeName} to join it`,
    );
  }
  if (storeName !== candidate.clusterName) {
    throw new AppvisorError(
      'CLUSTER_MISMATCH',
      storeName === null
        ? `this store is used by a node that runs without a cluster name: ${listed(others)}; start it with --set cluster.name=${candidate.clusterName} first, then this node`
        : `this store is the platform of cluster "${storeName}", not "${candidate.clusterName}" (${listed(others)})`,
    );
  }
  return { clusterName: storeName };
}
