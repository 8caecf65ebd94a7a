export { AppService } from './app-service.js';
export type { ControlResult } from './control.js';
export { defaultResourceLimits } from './limits.js';
export type {
  AppInstances,
  AppLimitsStatus,
  AppServiceEvents,
  AppServiceOptions,
  AppStatus,
  AppSummary,
  ForwardedServiceMessage,
  InstallOptions,
  ServiceChannel,
  UpdateGuard,
} from './types.js';
