/**
 * Each part's options, from the configuration (its seconds made milliseconds, its folders
 * placed in the data folder) and the parts it is given. The composition root says which parts
 * go where; these say how the configuration reaches them.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AlarmNotifierOptions } from '../core/alarms/index.js';
import type { AppService, AppServiceOptions } from '../core/apps/index.js';
import type { AppStoreServiceOptions } from '../core/appstore/index.js';
import type { AdminAuthOptions } from '../core/auth/index.js';
import { defaultLabel, type BackupServiceOptions } from '../core/backup/index.js';
import type { Config } from '../core/config/index.js';
import type { DiskWatchOptions } from '../core/disk/index.js';
import type { AdminListenerOptions, Front, FrontOptions } from '../core/front/index.js';
import type { NodeMembershipOptions } from '../core/nodes/index.js';
import type { DatabaseServer } from '../core/database/index.js';
import type { InstanceService, InstanceServiceOptions } from '../core/instances/index.js';
import type {
  ListenAddress,
  MetricsServerOptions,
  MonitorSamplerOptions,
  PrometheusExporter,
} from '../core/monitor/index.js';
import { clientConnections } from '../core/status/index.js';
import type { SettingsService } from '../core/settings/index.js';
import { SecretBox } from '../lib/secret-box.js';
import type { Logger } from '../lib/logger.js';
import { version } from '../lib/version.js';
import type { Basis } from './basis.js';

/** The front's ports and limits; `logger` takes the errors that escape its handlers. */
export function frontOptions(config: Config, logger: Logger): FrontOptions {
  return {
    http: config.http,
    https: config.https,
    logger,
    maxConnectionsPerClient: config.front.maxConnectionsPerClient,
    headersTimeoutMs: config.front.headersTimeoutSeconds * 1000,
    keepAliveTimeoutMs: config.front.keepAliveTimeoutSeconds * 1000,
    maxConnections: config.front.maxConnections,
    idleTimeoutMs: config.front.idleTimeoutSeconds * 1000,
  };
}

/** The admin listener's address; its timeouts are the front's. */
export function adminListenerOptions(config: Config, logger: Logger): AdminListenerOptions {
  return {
    host: config.admin.host,
    port: config.admin.port,
    tls: config.admin.tls,
    maxConnections: config.admin.maxConnections,
    headersTimeoutMs: config.front.headersTimeoutSeconds * 1000,
    keepAliveTimeoutMs: config.front.keepAliveTimeoutSeconds * 1000,
    logger,
  };
}

export function adminAuthOptions(
  { config, nodeId }: Basis,
  store: AdminAuthOptions['store'],
): AdminAuthOptions {
  return {
    store,
    nodeId,
    sessionMs: config.admin.sessionHours * 3600_000,
    loginAttempts: config.admin.loginAttempts,
    loginWindowMs: config.admin.loginWindowSeconds * 1000,
  };
}

export function appServiceOptions(
  { config, layout, nodeId, isRoot, logger, pause }: Basis,
  parts: Pick<
    AppServiceOptions,
    'instances' | 'updateGuard' | 'store' | 'events' | 'alarms' | 'sandbox' | 'resourceLimits'
  >,
): AppServiceOptions {
  return {
    ...parts,
    logger,
    nodeId,
    appsDir: layout.apps,
    appdataDir: layout.appdata,
    logsDir: layout.logs,
    isRoot,
    graceMs: config.apps.stopGraceSeconds * 1000,
    maxPackageBytes: config.apps.maxPackageBytes,
    runDir: layout.run,
    // Built beside the compiled manager: dist/sdk/ next to dist/src/.
    sdkBundle: fileURLToPath(new URL('../../sdk/appvisor-sdk.mjs', import.meta.url)),
    nodePath: process.execPath,
    serviceLimits: config.services,
    pause,
    limits: {
      maxBytes: config.apps.maxUnpackedBytes,
      maxEntries: config.apps.maxEntries,
      maxRatio: config.apps.maxRatio,
    },
  };
}

export function instanceServiceOptions(
  { config, layout, nodeId, secretKey, logger, pause }: Basis,
  parts: Pick<InstanceServiceOptions, 'store' | 'database' | 'apps' | 'events' | 'alarms'>,
): InstanceServiceOptions {
  return {
    ...parts,
    logger,
    nodeId,
    secrets: new SecretBox(secretKey),
    connectionLimit: config.instances.connectionLimit,
    startTimeoutMs: config.instances.startTimeoutSeconds * 1000,
    restoreStagingDir: join(layout.appdata, '.restores'),
    diskPath: layout.root,
    pause,
    maxAppAlarms: config.services.maxAlarms,
    usage: {
      intervalMs: config.monitor.intervalSeconds * 1000,
      largeSharePercent: config.instances.largeSharePercent,
    },
  };
}

export function backupServiceOptions(
  { config, layout, logger, pause, secretKey }: Basis,
  parts: Pick<BackupServiceOptions, 'store' | 'instances' | 'apps' | 'events' | 'alarms'>,
  settings: Pick<SettingsService, 'get'>,
): BackupServiceOptions {
  return {
    ...parts,
    logger,
    folder: config.backup.folder || layout.backups,
    secrets: new SecretBox(secretKey),
    parallel: config.backup.parallel,
    maxUploadBytes: config.backup.maxUploadBytes,
    updates: { template: config.backup.updateTemplate, keep: config.backup.updateKeep },
    pause,
    // #L: the label an admin set, else the machine's name.
    label: async () => (await settings.get()).label || defaultLabel(),
  };
}

export function appStoreOptions(
  { config, layout, nodeId, logger }: Basis,
  parts: Pick<
    AppStoreServiceOptions,
    'store' | 'apps' | 'instances' | 'backups' | 'alarms' | 'events'
  >,
): AppStoreServiceOptions {
  return {
    ...parts,
    logger,
    nodeId,
    workDir: layout.apps,
    fetch: {
      stallMs: config.appstore.stallSeconds * 1000,
      totalMs: config.appstore.downloadMinutes * 60_000,
    },
    maxIndexBytes: config.appstore.maxIndexBytes,
    maxPackageBytes: config.apps.maxPackageBytes,
    updateTimeoutMs: config.appstore.updateTimeoutSeconds * 1000,
    checkPeriodMs: config.appstore.checkHours * 3600_000,
  };
}

/** Alarm notifications go where the settings say now (the configuration fills what is empty). */
export function notifierOptions(
  { config, nodeId, logger }: Basis,
  alarms: AlarmNotifierOptions['alarms'],
  settings: Pick<SettingsService, 'current'>,
): AlarmNotifierOptions {
  return {
    alarms,
    logger,
    nodeId,
    host: hostname(),
    targets: async () => {
      const now = await settings.current();
      return { label: now.label, url: now.alarmUrl, to: now.alarmEmail };
    },
    smtp: config.alarms.smtp,
    resendMs: config.alarms.resendMinutes * 60_000,
    retry: {
      initialDelayMs: config.alarms.retrySeconds * 1000,
      maxDelayMs: config.alarms.retryMaxSeconds * 1000,
      attempts: config.alarms.attempts,
      limit: config.alarms.queueSize,
    },
  };
}

export function diskWatchOptions(
  { config, layout, logger }: Basis,
  alarms: DiskWatchOptions['alarms'],
): DiskWatchOptions {
  return {
    dataDir: layout.root,
    alarms,
    logger,
    reserveBytes: config.disk.reserveBytes,
    lowPercent: config.disk.lowPercent,
    lowBytes: config.disk.lowBytes,
    periodMs: config.disk.checkSeconds * 1000,
  };
}

/** What the monitor samples: the apps' processes, the instances, the database server. */
export function monitorOptions(
  { config, layout, logger }: Basis,
  parts: {
    apps: Pick<AppService, 'processes'>;
    instances: Pick<InstanceService, 'list'>;
    database: Pick<DatabaseServer, 'info'>;
    store: Parameters<typeof clientConnections>[0];
  },
): MonitorSamplerOptions {
  const { apps, instances, database, store } = parts;
  return {
    dataDir: layout.root,
    intervalMs: config.monitor.intervalSeconds * 1000,
    logger,
    sources: {
      apps: () => apps.processes(),
      instances: () =>
        instances.list().map((view) => ({
          id: view.id,
          app: view.app,
          ready: view.state === 'ready',
          usage: view.usage,
        })),
      database: () => {
        const info = database.info();
        return { state: info.state, pid: info.pid };
      },
      connections: () => clientConnections(store),
    },
  };
}

/** The unauthenticated `/metrics` listener, when `monitor.metricsListen` names one. */
export function metricsServerOptions(
  { logger }: Basis,
  listen: ListenAddress,
  metrics: Pick<PrometheusExporter, 'render' | 'contentType'>,
): MetricsServerOptions {
  return { listen, render: () => metrics.render(), contentType: metrics.contentType, logger };
}

/**
 * This node's membership of the platform. Its address is the `cluster.host` (or this
 * machine's name) with the front's HTTP port, or its HTTPS port when HTTP is off.
 */
export function nodeMembershipOptions(
  { config, layout, nodeId, secretKey, logger }: Basis,
  parts: Pick<NodeMembershipOptions, 'store' | 'events' | 'alarms'> & {
    front: Pick<Front, 'addresses'>;
  },
): NodeMembershipOptions {
  const host = hostname();
  return {
    store: parts.store,
    events: parts.events,
    alarms: parts.alarms,
    logger,
    nodeId,
    secretKey,
    clusterName: config.cluster.name,
    hostName: host,
    address: () => {
      const bound = parts.front.addresses();
      const port = (bound.find((a) => a.scheme === 'http') ?? bound[0])?.port ?? 0;
      const name = config.cluster.host || host;
      return `${name.includes(':') ? `[${name}]` : name}:${port}`;
    },
    dataDir: layout.root,
    capacity: config.cluster.capacity,
    leaseSeconds: config.cluster.leaseSeconds,
    version,
  };
}
