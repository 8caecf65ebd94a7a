/**
 * Monitoring: the machine's resources (CPU, memory, load, disk of the data folder) read from
 * `/proc` and `statfs`. The public surface of the subsystem.
 */
export {
  SystemMonitor,
  cpuPercent,
  parseLoadavg,
  parseMeminfo,
  parseProcStat,
  type CpuTimes,
  type SystemMonitorOptions,
  type SystemSnapshot,
} from './system.js';
