export {
  EventLog,
  type ActiveAlarm,
  type EventLogOptions,
  type ManagerEvent,
  type Severity,
} from './event-log.js';
