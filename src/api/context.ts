import type { Readable } from 'node:stream';
import type { AlarmService } from '../core/alarms/index.js';
import type { DiskWatch } from '../core/disk/index.js';
import type { AppService } from '../core/apps/index.js';
import type { AppStoreService } from '../core/appstore/index.js';
import type { AdminAuth, InstanceGrants } from '../core/auth/index.js';
import type { BackupService } from '../core/backup/index.js';
import type { InstanceService } from '../core/instances/index.js';
import type { MonitorSampler, PrometheusExporter } from '../core/monitor/index.js';
import type { CertificateStore } from '../core/tls/index.js';
import type { EventLog } from '../core/events/index.js';
import type { SettingsService } from '../core/settings/index.js';
import type { Logger } from '../lib/logger.js';
import type { BodyTimeouts } from './body-timeout.js';
import type { HealthReport, StatusReport } from './types.js';

/** What the API needs of the manager; the composition root provides it. */
export interface ApiContext {
  logger: Logger;
  auth: AdminAuth;
  /** Grants for instance pages the admin opens (admin logins to that instance only). */
  grants: InstanceGrants;
  apps: AppService;
  instances: InstanceService;
  backups: BackupService;
  appStore: AppStoreService;
  certificates: CertificateStore;
  events: EventLog;
  alarms: AlarmService;
  disk: DiskWatch;
  /** A diagnostics archive (tar.gz) with logs, status, settings and alarms; secrets removed. */
  diagnostics(): Promise<Readable>;
  settings: SettingsService;
  /** Samples and their history (`/monitor`). */
  monitor: MonitorSampler;
  /** The Prometheus text of the latest sample (`/metrics`). */
  metrics: PrometheusExporter;
  /** The built admin UI (index.html and assets/); a missing folder gives a page saying so. */
  uiDir: string;
  /** How long request bodies may take (default: 30 s in all, uploads 60 s without a byte). */
  bodyTimeouts?: BodyTimeouts;
  /** max-age of Strict-Transport-Security on admin responses over HTTPS; 0 or absent: none. */
  hstsMaxAgeSeconds?: number;
  health(): HealthReport;
  status(): Promise<StatusReport>;
}
