export {
  InstanceService,
  type AdminLogin,
  type BackupSource,
  type InstanceConnection,
  type RestoreTarget,
  type InstanceServiceOptions,
  type InstanceState,
  type InstanceView,
} from './instance-service.js';
export { applyTraceChanges, normalizeDomain, normalizePath, traceFlagNames } from './validation.js';
