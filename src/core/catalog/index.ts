export {
  Catalog,
  randomUnixUserName,
  unixUserCandidates,
  type AppRecord,
  type AppSettingsChange,
  type CatalogOptions,
  type StagedPackage,
} from './catalog.js';
export {
  appIdPattern,
  checkAppId,
  checkStaticFolder,
  manifestSchema,
  readManifest,
  type Manifest,
} from './manifest.js';
export { defaultPackageLimits, extractPackage, type PackageLimits } from './package-reader.js';
