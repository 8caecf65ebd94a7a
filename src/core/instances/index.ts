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
} from './model.js';
export { pbxLinkOf, type PbxLink } from './pbx-link.js';
export {
  applyTraceChanges,
  checkInstanceId,
  checkPassword,
  normalizeDomain,
  normalizePath,
  traceFlagNames,
} from './validation.js';
