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
export { findPostgresBinaries } from '../../lib/postgres-binaries.js';
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
export { databaseSizes } from './sizes.js';
export { watchDatabaseDown, type DatabaseDownAlarm } from './down-alarm.js';
export {
  databaseTransition,
  databaseTransitions,
  ServerMachine,
  type DatabaseContext,
  type DatabaseEvent,
  type DatabaseTransition,
} from './machine.js';
export { Postmaster, type PostmasterOptions } from './postmaster.js';
