export type { DatabaseInfo, DatabaseServer, DatabaseState, DatabaseStateChange } from './types.js';
export { EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded.js';
export {
  checkServerCanReach,
  placeCluster,
  serverUser,
  type ClusterPlacement,
  type PlacementOptions,
} from './placement.js';
export { ExternalPostgres, type ExternalPostgresOptions } from './external.js';
export { findPostgresBinaries } from './binaries.js';
export {
  createStagingDatabase,
  databaseExists,
  dropDatabase,
  dropLeftoverDatabases,
  retiredPrefix,
  stagingPrefix,
  swapDatabases,
  dropInstanceDatabase,
  ensureInstanceDatabase,
  instanceAccessRole,
  instanceDatabaseName,
  resetInstanceRoles,
  lockDownServer,
  type InstanceDatabase,
} from './provision.js';
export { databaseError } from './errors.js';
