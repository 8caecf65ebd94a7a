export { buildApi, apiPrefix, type Api } from './server.js';
export { LocalSocketServer } from './local-socket.js';
export { toErrorBody } from './errors.js';
export type { ApiContext } from './context.js';
export type {
  ActiveAlarm,
  AppActionAnswer,
  AppConfigureBody,
  AppList,
  AppStatus,
  CertificateBody,
  InstanceCreateBody,
  InstanceList,
  InstanceUpdateBody,
  LoginAnswer,
  OkAnswer,
  PasswordAnswer,
  PlatformSettings,
  SessionInfo,
  SystemSnapshot,
  TraceBody,
  AppSummary,
  BackupEntry,
  BackupSchedule,
  CertificateStatus,
  ErrorBody,
  AdminLogin,
  InstanceView,
  EventsReport,
  HealthReport,
  StatusReport,
} from './types.js';
