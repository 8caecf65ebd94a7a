export {
  AppService,
  defaultResourceLimits,
  type AppLimitsStatus,
  type AppServiceOptions,
  type AppStatus,
  type AppSummary,
  type InstallOptions,
  type InstanceHost,
  type ServiceChannel,
} from './app-service.js';
