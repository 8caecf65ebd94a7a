export type { DatabaseInfo, DatabaseServer, DatabaseState, DatabaseStateChange } from './types.js';
export {
  EmbeddedPostgres,
  checkServerCanReach,
  serverUser,
  type EmbeddedPostgresOptions,
} from './embedded.js';
export { ExternalPostgres, type ExternalPostgresOptions } from './external.js';
export { findPostgresBinaries } from './binaries.js';
