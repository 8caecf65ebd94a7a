export {
  AppService,
  type AppServiceOptions,
  type AppStatus,
  type AppSummary,
} from './app-service.js';
