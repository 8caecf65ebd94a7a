import type { Readable } from 'node:stream';
import type { Logger } from '../lib/logger.js';
import type { BodyTimeouts } from './body-timeout.js';
import type {
  ApiAlarms,
  ApiApps,
  ApiAppStore,
  ApiAuth,
  ApiCluster,
  ApiBackups,
  ApiCertificates,
  ApiConfigTransfer,
  ApiDisk,
  ApiEvents,
  ApiGrants,
  ApiInstances,
  ApiMetrics,
  ApiMonitor,
  ApiNodes,
  ApiSettings,
} from './services.js';
import type { HealthReport, StatusReport } from './types.js';

/**
 * What the API needs of the manager; the composition root provides it. The services are the
 * narrow views of `services.ts`.
 */
export interface ApiContext {
  logger: Logger;
  auth: ApiAuth;
  /** Grants for instance pages the admin opens (admin logins to that instance only). */
  grants: ApiGrants;
  apps: ApiApps;
  instances: ApiInstances;
  backups: ApiBackups;
  appStore: ApiAppStore;
  certificates: ApiCertificates;
  events: ApiEvents;
  alarms: ApiAlarms;
  disk: ApiDisk;
  /** The nodes of the platform (`/nodes`). */
  nodes: ApiNodes;
  /** On a node of a cluster: the other nodes, to pass on what they own. */
  cluster?: ApiCluster | undefined;
  /** A diagnostics archive (tar.gz) with logs, status, settings and alarms; secrets removed. */
  diagnostics(): Promise<Readable>;
  settings: ApiSettings;
  /** The configuration file (`/config/export`, `/config/import`). */
  configTransfer: ApiConfigTransfer;
  /** Samples and their history (`/monitor`). */
  monitor: ApiMonitor;
  /** The Prometheus text of the latest sample (`/metrics`). */
  metrics: ApiMetrics;
  /** The built admin UI (index.html and assets/); a missing folder gives a page saying so. */
  uiDir: string;
  /** How long request bodies may take (default: 30 s in all, uploads 60 s without a byte). */
  bodyTimeouts?: BodyTimeouts;
  /** max-age of Strict-Transport-Security on admin responses over HTTPS; 0 or absent: none. */
  hstsMaxAgeSeconds?: number;
  health(): HealthReport;
  status(): Promise<StatusReport>;
}
