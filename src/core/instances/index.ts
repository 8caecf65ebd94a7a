export { InstanceService } from './instance-service.js';
export { instanceDatabases, type InstanceDatabases } from './databases.js';
export {
  type AdminLogin,
  type BackupSource,
  type InstanceConnection,
  type RestoreTarget,
  type InstanceServiceOptions,
  type InstanceState,
  type InstanceView,
  type InstanceUsage,
  type VacuumProgress,
  type VacuumResult,
} from './model.js';
export { usageTotal } from './usage.js';
export { pbxLinkOf, type PbxLink } from './pbx-link.js';
export {
  applyTraceChanges,
  checkInstanceId,
  checkPassword,
  normalizeDomain,
  normalizePath,
  traceFlagNames,
} from './validation.js';
