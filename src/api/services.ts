/**
 * What the API calls of each service: the methods its routes use and nothing else. The
 * composition root passes the real services (they fit by shape); the route tests
 * (`test/api/`) pass fakes, so every route is reached without PostgreSQL or app processes.
 * A route that needs another method adds it here, which is the place to see what the API
 * depends on.
 */
import type { AlarmService } from '../core/alarms/index.js';
import type { AppService } from '../core/apps/index.js';
import type { AppStoreService } from '../core/appstore/index.js';
import type { AdminAuth, InstanceGrants } from '../core/auth/index.js';
import type { BackupService } from '../core/backup/index.js';
import type { DiskWatch } from '../core/disk/index.js';
import type { EventLog } from '../core/events/index.js';
import type { InstanceService } from '../core/instances/index.js';
import type { MonitorSampler, PrometheusExporter } from '../core/monitor/index.js';
import type { ClusterOps, NodeMembership } from '../core/nodes/index.js';
import type { SettingsService } from '../core/settings/index.js';
import type { ConfigTransfer } from '../core/transfer/index.js';
import type { CertificateStore } from '../core/tls/index.js';

/** The admin's logins and password. */
export type ApiAuth = Pick<
  AdminAuth,
  'verify' | 'login' | 'logout' | 'checkPassword' | 'setPassword'
>;

/** Grants for instance pages the admin opens. */
export type ApiGrants = Pick<InstanceGrants, 'issue' | 'revoke' | 'instanceOf'>;

/** Installed apps: install, status, start and stop, settings, logs, uninstall. */
export type ApiApps = Pick<
  AppService,
  'list' | 'status' | 'uninstall' | 'startApp' | 'stopApp' | 'restartApp' | 'configure' | 'logs'
>;

/** Instances of the apps. */
export type ApiInstances = Pick<
  InstanceService,
  'list' | 'create' | 'show' | 'set' | 'trace' | 'adminLogin' | 'vacuum' | 'delete'
>;

/** Backup archives and their schedule. */
export type ApiBackups = Pick<
  BackupService,
  | 'list'
  | 'create'
  | 'restore'
  | 'running'
  | 'schedule'
  | 'setSchedule'
  | 'listTargets'
  | 'addTarget'
  | 'removeTarget'
  | 'testTarget'
  | 'open'
  | 'receive'
>;

/** The app stores' sources. */
export type ApiStoreSources = Pick<AppStoreService['sources'], 'list' | 'put' | 'remove'>;

/** App stores: what they offer, install, update, the update check. */
export interface ApiAppStore extends Pick<
  AppStoreService,
  | 'list'
  | 'show'
  | 'install'
  | 'installUpload'
  | 'update'
  | 'updateAll'
  | 'updates'
  | 'check'
  | 'operations'
> {
  sources: ApiStoreSources;
}

/** The TLS certificate of the front. */
export type ApiCertificates = Pick<CertificateStore, 'status' | 'set' | 'reset'>;

/** The manager's event log. */
export type ApiEvents = Pick<EventLog, 'list' | 'subscribe'>;

/** Active alarms and their history. */
export type ApiAlarms = Pick<AlarmService, 'listed' | 'history'>;

/** The disk reserve of the data folder. */
export type ApiDisk = Pick<DiskWatch, 'report' | 'release' | 'check'>;

/** The nodes of the platform. */
export type ApiNodes = Pick<NodeMembership, 'report' | 'remove'>;

/**
 * The other nodes of a cluster, for the routes that act on what another node owns (absent on a
 * platform of one node).
 */
export type ApiCluster = Pick<
  ClusterOps,
  | 'self'
  | 'placement'
  | 'ownerOf'
  | 'peers'
  | 'reconcile'
  | 'forgetApp'
  | 'call'
  | 'move'
  | 'drain'
  | 'undrain'
>;

/** Platform settings. */
export type ApiSettings = Pick<SettingsService, 'get' | 'update'>;

/** The configuration file: export and import. */
export type ApiConfigTransfer = Pick<ConfigTransfer, 'export' | 'import'>;

/** Samples and their history. */
export type ApiMonitor = Pick<MonitorSampler, 'current' | 'history'>;

/** The Prometheus text of the latest sample. */
export type ApiMetrics = Pick<PrometheusExporter, 'render' | 'renderPlatform' | 'contentType'>;
