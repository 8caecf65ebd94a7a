export { AppLog, defaultLogLimits, type LogLimits } from './app-log.js';
