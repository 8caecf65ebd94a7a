/**
 * App stores: static `apps.json` indexes with Ed25519 signatures, installs and updates with
 * verified downloads, backups first and rollback. The public surface of the subsystem.
 */
export {
  AppStoreService,
  type AppStoreServiceOptions,
  type AvailableUpdate,
  type InstalledView,
  type OperationPhase,
  type StoreAppView,
  type StoreListing,
  type StoreOperation,
  type StoreProblem,
  type StoreResult,
  type StoreVersionView,
  type UpdateCheck,
} from './app-store-service.js';
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
