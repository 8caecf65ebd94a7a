/**
 * The nodes of the platform: the admission of a manager to a store, the leases by which the
 * nodes know who is up, and the registry the CLI, API and UI show. The public surface of the
 * subsystem; docs/cluster.md says how it coordinates and what each failure does.
 */
export {
  admit,
  type Admitted,
  type Candidate,
  type NodeState,
  type RegisteredNode,
  type StoreSide,
} from './admission.js';
export {
  NodeMembership,
  type NodeMembershipOptions,
  type NodeView,
  type NodesReport,
} from './membership.js';
export { PeerRoutes, type PeerRoute, type PeerRoutesOptions } from './peer-routes.js';
export {
  callPeer,
  peerApiHandler,
  peerApiPrefix,
  passedOnHeader,
  PeerCallSigner,
  type PeerAnswer,
} from './peer-calls.js';
export { AppSync, type AppSyncOptions, type SyncedApps } from './app-sync.js';
export {
  haltStillHolds,
  interruptedInstall,
  rollStep,
  rolloutHaltedAlarm,
  type PlatformPackage,
  type RollStep,
} from './rollout.js';
export { ClusterOps, type ClusterOpsOptions, type DrainResult } from './cluster-ops.js';
export { choosePlacement, type Placement, type PlacementCandidate } from './placement.js';
export {
  ClusterInstances,
  isPinRefusal,
  mergeListings,
  peerResult,
  type ClusterInstancesOptions,
  type ClusterNewInstance,
  type NodeListing,
} from './cluster-instances.js';
export { AppHosting, type AppHostingOptions, type HostedApps } from './app-hosting.js';
