/**
 * App stores: static `apps.json` indexes with Ed25519 signatures, installs and updates with
 * verified downloads, backups first and rollback. The public surface of the subsystem.
 */
export {
  AppStoreService,
  type AppStoreServiceOptions,
  type StoreApps,
  type UpdateAllResult,
} from './app-store-service.js';
export type {
  AvailableUpdate,
  InstalledView,
  StoreAppView,
  StoreListing,
  StoreOperation,
  StoreProblem,
  StoreResult,
  StoreVersionView,
  UpdateCheck,
} from './types.js';
export {
  operationTransition,
  operationTransitions,
  type OperationEvent,
  type OperationPhase,
  type OperationTransition,
} from './operation-machine.js';
export { StoreOperations } from './operations.js';
export { waitReady, type ReadinessWatch } from './ready.js';
export type { FileInstallOptions } from './update.js';
export { checkSource, StoreSources, type StoreSource } from './sources.js';
export {
  generateSigningKey,
  packageStatement,
  parsePrivateKey,
  parsePublicKey,
  publicKeyOf,
  signBytes,
  verifyBytes,
  type PackageFacts,
} from './signing.js';
export { parseIndex, type IndexApp, type IndexVersion, type StoreIndex } from './store-index.js';
export { buildStore, restampIndex, signStoreFile, type BuildResult } from './store-builder.js';
export { downloadPackage, fetchText, type FetchLimits } from './download.js';
