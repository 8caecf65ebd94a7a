export { AppService } from './app-service.js';
export type { ControlResult } from './control.js';
export { defaultResourceLimits } from './limits.js';
export { namedInstance } from './service-channel.js';
export type {
  AppInstances,
  AppLimitsStatus,
  AppServiceEvents,
  AppServiceOptions,
  AppStatus,
  AppSummary,
  InstallOptions,
  ServiceChannel,
  UpdateGuard,
} from './types.js';
