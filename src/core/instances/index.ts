export { InstanceService } from './instance-service.js';
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
export { applyTraceChanges, normalizeDomain, normalizePath, traceFlagNames } from './validation.js';
