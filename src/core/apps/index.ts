export {
  AppService,
  type AppServiceOptions,
  type AppStatus,
  type AppSummary,
  type InstanceHost,
  type ServiceChannel,
} from './app-service.js';
