/**
 * Monitoring: the machine's resources (CPU, memory, load, disk of the data folder), each app's
 * process tree and the database server, sampled from `/proc` and `statfs`, kept for a day in
 * memory and exported in the Prometheus text format. The public surface of the subsystem.
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
export {
  ProcessTable,
  parsePidStat,
  parseStatusRss,
  type ProcStat,
  type TreeUsage,
} from './processes.js';
export { SampleRing, type Bucket } from './ring.js';
export {
  MonitorSampler,
  resolutions,
  seriesUnit,
  type AppProcess,
  type AppUsage,
  type InstanceReadiness,
  type MonitorHistory,
  type MonitorSamplerOptions,
  type MonitorSnapshot,
  type MonitorSources,
  type PostgresUsage,
  type Resolution,
  type SeriesUnit,
} from './sampler.js';
export { PrometheusExporter, appStates } from './prometheus.js';
export {
  platformTotals,
  type AppTotals,
  type NodeSample,
  type PlatformTotals,
} from './platform.js';
export {
  MetricsServer,
  isLoopback,
  parseListen,
  type ListenAddress,
  type MetricsServerOptions,
} from './metrics-server.js';
