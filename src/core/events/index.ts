export { EventLog, type EventLogOptions, type ManagerEvent, type Severity } from './event-log.js';
