/**
 * The manager's composition root and the entry point of `npm start` / `appvisor daemon`.
 * Only this file and src/cli/index.ts touch the process (environment, signals, exit).
 */
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildApi, LocalSocketServer } from './api/index.js';
import { AlarmNotifier, AlarmService, CertificateWatch } from './core/alarms/index.js';
import { AppService } from './core/apps/index.js';
import { AppStoreService } from './core/appstore/index.js';
import { AdminAuth, InstanceGrants } from './core/auth/index.js';
import { loadConfig, type Config } from './core/config/index.js';
import {
  EmbeddedPostgres,
  lockDownServer,
  placeCluster,
  ExternalPostgres,
  serverUser,
  type DatabaseServer,
  watchDatabaseDown,
} from './core/database/index.js';
import { DataDir } from './core/datadir/index.js';
import { DiskWatch } from './core/disk/index.js';
import { AppvisorError } from './core/errors/index.js';
import { EventLog } from './core/events/index.js';
import { AdminListener, Front, instanceResolver, type FrontAddress } from './core/front/index.js';
import { BackupService, defaultLabel } from './core/backup/index.js';
import { InstanceService } from './core/instances/index.js';
import {
  MetricsServer,
  MonitorSampler,
  PrometheusExporter,
  parseListen,
  type ListenAddress,
} from './core/monitor/index.js';
import { SettingsService } from './core/settings/index.js';
import { clientConnections, ManagerStatus, managerDiagnostics } from './core/status/index.js';
import { Sandbox } from './core/supervisor/index.js';
import { Store } from './core/store/index.js';
import { CertificateStore } from './core/tls/index.js';
import { ComponentGroup, type Component } from './lib/lifecycle.js';
import { createLogger, type Logger } from './lib/logger.js';
import { makePause } from './lib/pause-points.js';
import { ensureSystemUser } from './lib/os-users.js';
import { RotatingFile } from './lib/rotating-file.js';
import { SecretBox } from './lib/secret-box.js';
import { version } from './lib/version.js';
import { keepAlive } from './lib/last-resort.js';

/** Error codes that mean "this start cannot work as configured": exit code 2. */
const startupCodes = new Set([
  'CONFIG_INVALID',
  'DATA_DIR_UNUSABLE',
  'PORT_IN_USE',
  'ALREADY_RUNNING',
  'STORE_TOO_NEW',
]);

/** What the daemon needs from the process; gathered by the entry point. */
export interface DaemonInput {
  /** Configuration values from flags, by dotted key. */
  flags: Record<string, string | undefined>;
  configFile?: string;
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** A running manager. */
export interface Manager {
  config: Config;
  logger: Logger;
  addresses(): FrontAddress[];
  /** Where the admin UI and API listen. */
  adminAddress(): FrontAddress | undefined;
  /** Where the unauthenticated metrics listener is, when one is configured. */
  metricsAddress(): ListenAddress | undefined;
  /** Shuts down gracefully, in reverse start order. Idempotent. */
  close(): Promise<void>;
  /** Kills what is left at once. */
  destroy(): void;
  /** Shown once on the first start when no admin password was configured. */
  oneTimePassword: string | null;
}

function lifecycleOf(
  name: string,
  start: () => Promise<void> | void,
  close: () => Promise<void>,
): Component {
  let closing: Promise<void> | undefined;
  return {
    name,
    start: async () => {
      await start();
    },
    close: () => (closing ??= close()),
    destroy: () => undefined,
  };
}

/**
 * Starts every part of the manager in order; on failure, closes what was started.
 * Longer than a function should be, on purpose: it is the composition root, read top to bottom
 * in start order. It only builds parts and hands them to each other; what the manager reports
 * about itself lives in core/status, the front's routing to instances in core/front.
 */
export async function startManager(
  config: Config,
  io: Pick<DaemonInput, 'stderr'>,
): Promise<Manager> {
  const isRoot = process.getuid?.() === 0;
  const startedAt = new Date();
  const group = new ComponentGroup();
  // The log goes to stderr until the data folder (and so the log file) exists.
  const stderrLogger = createLogger({ level: 'warn', file: io.stderr });
  const front = new Front({
    http: config.http,
    https: config.https,
    logger: stderrLogger,
    maxConnectionsPerClient: config.front.maxConnectionsPerClient,
    headersTimeoutMs: config.front.headersTimeoutSeconds * 1000,
    keepAliveTimeoutMs: config.front.keepAliveTimeoutSeconds * 1000,
    maxConnections: config.front.maxConnections,
    idleTimeoutMs: config.front.idleTimeoutSeconds * 1000,
  });
  await front.bind();
  const adminListener = new AdminListener({
    host: config.admin.host,
    port: config.admin.port,
    tls: config.admin.tls,
    maxConnections: config.admin.maxConnections,
    headersTimeoutMs: config.front.headersTimeoutSeconds * 1000,
    keepAliveTimeoutMs: config.front.keepAliveTimeoutSeconds * 1000,
    logger: stderrLogger,
  });
  try {
    await adminListener.bind();
  } catch (error) {
    await front.close();
    throw error;
  }

  let logFile: RotatingFile | undefined;
  try {
    const dataDir = await group.startOne(new DataDir(config.data));
    const { layout } = dataDir;
    logFile = new RotatingFile({
      path: join(layout.logs, 'manager.log'),
      maxBytes: config.log.maxBytes,
      files: config.log.files,
    });
    const logger = createLogger({ level: config.log.level, file: logFile, console: io.stderr });
    logger.info({ version, pid: process.pid, data: layout.root }, 'manager starting');

    const events = await group.startOne(new EventLog({ logger, nodeId: dataDir.nodeId }));
    const alarms = await group.startOne(
      new AlarmService({ logger, events, nodeId: dataDir.nodeId }),
    );
    // Set once the watch starts; a certificate loaded before that is checked at its start.
    const watches: { cert?: CertificateWatch } = {};
    const certificates = new CertificateStore(
      layout.tls,
      (pair) => {
        front.setCertificate(pair);
        adminListener.setCertificate(pair);
        watches.cert?.check();
      },
      alarms,
    );
    await certificates.load();

    let database: DatabaseServer;
    if (config.database.url) {
      database = new ExternalPostgres({ url: config.database.url, logger });
    } else {
      const placement = await placeCluster({
        localDir: layout.pg,
        runDir: layout.run,
        fallbackDir: config.database.fallbackDir,
        nodeId: dataDir.nodeId,
        user: isRoot ? await ensureSystemUser(serverUser) : undefined,
      });
      if (placement.outside) {
        logger.warn(
          { cluster: placement.dataDir },
          'the postgres user cannot reach the data folder: the database lives outside it',
        );
      }
      database = new EmbeddedPostgres({
        dataDir: placement.dataDir,
        socketDir: placement.socketDir,
        binariesDir: placement.binariesDir,
        logFile: join(layout.logs, 'postgres.log'),
        port: config.database.port,
        maxConnections: config.database.maxConnections,
        startTimeoutMs: config.database.startTimeoutSeconds * 1000,
        managerUser: isRoot ? 'root' : userInfo().username,
        isRoot,
        logger,
      });
    }
    const databaseDown = watchDatabaseDown(database, alarms);
    await group.startOne(database);
    const store = await group.startOne(new Store({ database, logger }));
    await group.startOne(
      lifecycleOf(
        'events-store',
        () => {
          events.attach(store);
        },
        () => events.detach(),
      ),
    );
    await group.startOne(
      lifecycleOf(
        'alarms-store',
        async () => {
          await alarms.attach(store);
          databaseDown.reconcile();
          await certificates.reconcileAlarm();
        },
        () => alarms.detach(),
      ),
    );
    const auth = await group.startOne(
      new AdminAuth({
        store,
        nodeId: dataDir.nodeId,
        sessionMs: config.admin.sessionHours * 3600_000,
        loginAttempts: config.admin.loginAttempts,
        loginWindowMs: config.admin.loginWindowSeconds * 1000,
      }),
    );
    const oneTimePassword = await auth.ensurePassword(config.admin.initialPassword);
    // One control group per app below the manager's own (a name per node: two managers on one
    // machine never share one), or rlimits when no cgroup can be written.
    const sandbox = Sandbox.open({
      name: `appvisor-${dataDir.nodeId.slice(0, 8)}`,
      isRoot,
      mode: config.apps.limitsEnforcement,
    });
    const resourceLimits = {
      memoryMaxBytes: config.apps.memoryMaxBytes,
      cpuWeight: config.apps.cpuWeight,
      pidsMax: config.apps.pidsMax,
    };
    const sandboxInfo = sandbox.info();
    if (sandboxInfo.enforcement.startsWith('cgroup'))
      logger.info({ limits: sandboxInfo }, 'app limits enforced by control groups');
    else logger.warn({ limits: sandboxInfo }, 'app limits are not enforced by control groups');
    const grants = new InstanceGrants({ ttlMs: config.admin.sessionHours * 3600_000 });
    // The instances subsystem starts first: it must host services that autostart apps bring up.
    const testPause = makePause(config.testing.pauses, (step) => {
      logger.warn({ step }, `test pause at ${step}`);
    });
    // The subsystems above apps, built after it: what apps asks of them is resolved when asked.
    const above: { instances?: InstanceService; backups?: BackupService } = {};
    const apps = new AppService({
      instances: () => above.instances,
      updateGuard: () => above.backups,
      store,
      events,
      alarms,
      logger,
      nodeId: dataDir.nodeId,
      appsDir: layout.apps,
      appdataDir: layout.appdata,
      logsDir: layout.logs,
      isRoot,
      graceMs: config.apps.stopGraceSeconds * 1000,
      maxPackageBytes: config.apps.maxPackageBytes,
      runDir: layout.run,
      sdkBundle: fileURLToPath(new URL('../sdk/appvisor-sdk.mjs', import.meta.url)),
      nodePath: process.execPath,
      serviceLimits: config.services,
      sandbox,
      resourceLimits,
      pause: testPause,
      limits: {
        maxBytes: config.apps.maxUnpackedBytes,
        maxEntries: config.apps.maxEntries,
        maxRatio: config.apps.maxRatio,
      },
    });
    if (database.mode === 'embedded') await lockDownServer(database);
    const instances = await group.startOne(
      new InstanceService({
        store,
        database,
        apps,
        events,
        alarms,
        logger,
        nodeId: dataDir.nodeId,
        secrets: new SecretBox(dataDir.secretKey),
        connectionLimit: config.instances.connectionLimit,
        startTimeoutMs: config.instances.startTimeoutSeconds * 1000,
        restoreStagingDir: join(layout.appdata, '.restores'),
        diskPath: layout.root,
        pause: testPause,
        maxAppAlarms: config.services.maxAlarms,
        usage: {
          intervalMs: config.monitor.intervalSeconds * 1000,
          largeSharePercent: config.instances.largeSharePercent,
        },
      }),
    );
    above.instances = instances;
    // The instances are hosted in the services: they learn of them from the app service.
    apps.on('service.ready', ({ app, channel }) => {
      instances.serviceReady(app, channel);
    });
    apps.on('service.message', ({ app, message }) => {
      instances.serviceMessage(app, message);
    });
    apps.on('service.gone', ({ app }) => {
      instances.serviceGone(app);
    });
    await group.startOne(apps);
    // The alarm URL and recipients of the configuration apply while their settings are empty.
    const settings = new SettingsService(store, {
      alarmUrl: config.alarms.url,
      alarmEmail: config.alarms.smtp.to,
    });
    const backups = await group.startOne(
      new BackupService({
        store,
        instances,
        apps,
        events,
        alarms,
        logger,
        folder: config.backup.folder || layout.backups,
        parallel: config.backup.parallel,
        updates: { template: config.backup.updateTemplate, keep: config.backup.updateKeep },
        // #L: the label an admin set, else the machine's name.
        label: async () => (await settings.get()).label || defaultLabel(),
      }),
    );
    // Installs back an app's instances up before replacing it from now on.
    above.backups = backups;

    const appStore = await group.startOne(
      new AppStoreService({
        store,
        apps,
        instances,
        backups,
        alarms,
        events,
        logger,
        nodeId: dataDir.nodeId,
        workDir: layout.apps,
        fetch: {
          stallMs: config.appstore.stallSeconds * 1000,
          totalMs: config.appstore.downloadMinutes * 60_000,
        },
        maxIndexBytes: config.appstore.maxIndexBytes,
        maxPackageBytes: config.apps.maxPackageBytes,
        updateTimeoutMs: config.appstore.updateTimeoutSeconds * 1000,
        checkPeriodMs: config.appstore.checkHours * 3600_000,
      }),
    );

    const notifier = await group.startOne(
      new AlarmNotifier({
        alarms,
        logger,
        nodeId: dataDir.nodeId,
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
      }),
    );

    // A new alarm URL or recipient: a notification waiting for its retry goes there at once.
    settings.onAlarmTargetsChange(() => {
      notifier.retargeted();
    });

    const disk = await group.startOne(
      new DiskWatch({
        dataDir: layout.root,
        alarms,
        logger,
        reserveBytes: config.disk.reserveBytes,
        lowPercent: config.disk.lowPercent,
        lowBytes: config.disk.lowBytes,
        periodMs: config.disk.checkSeconds * 1000,
      }),
    );
    watches.cert = await group.startOne(
      new CertificateWatch({ alarms, certificate: () => certificates.status() }),
    );

    // Checked before anything listens, so that a bad address stops the start at once.
    const metricsListen = config.monitor.metricsListen
      ? parseListen(config.monitor.metricsListen, config.monitor.metricsAllowRemote)
      : undefined;
    const monitor = await group.startOne(
      new MonitorSampler({
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
      }),
    );
    const metrics = new PrometheusExporter(() => monitor.current());
    const status = new ManagerStatus({
      nodeId: dataDir.nodeId,
      dataDir: layout.root,
      startedAt,
      front,
      adminListener,
      store,
      database,
      monitor,
      backups,
      apps,
      limits: { ...sandboxInfo, defaults: resourceLimits },
      alarms,
      appStore,
    });
    const api = await buildApi({
      logger,
      auth,
      grants,
      apps,
      instances,
      backups,
      appStore,
      certificates,
      events,
      alarms,
      disk,
      diagnostics: () =>
        managerDiagnostics({
          logsDir: layout.logs,
          secretKey: dataDir.secretKey,
          config,
          status: () => status.status(),
          instances,
          settings,
          appStore,
          alarms,
          events,
          disk,
          certificates,
        }),
      settings,
      monitor,
      metrics,
      // Built next to the compiled manager: dist/ui/ beside dist/src/.
      uiDir: fileURLToPath(new URL('../ui/', import.meta.url)),
      bodyTimeouts: {
        bodyMs: config.admin.bodyTimeoutSeconds * 1000,
        uploadIdleMs: config.admin.uploadIdleTimeoutSeconds * 1000,
      },
      hstsMaxAgeSeconds: config.https.hstsMaxAgeSeconds,
      health: () => status.health(),
      status: () => status.status(),
    });
    await group.startOne(
      lifecycleOf(
        'api',
        () => undefined,
        () => api.close(),
      ),
    );
    adminListener.setHandler(api.handler);
    front.setGrantExchange((token, challenge) => {
      const instance = grants.instanceOf(token);
      if (instance === undefined) {
        throw new AppvisorError(
          'UNAUTHORIZED',
          'the grant is unknown or expired: open the instance from the admin UI again',
        );
      }
      return instances.adminLogin(instance, challenge);
    });
    const adminAt = adminListener.address();
    if (adminAt) front.setAdminOrigin({ scheme: adminAt.scheme, port: adminAt.port });
    front.setInstanceResolver(
      instanceResolver({ instances, apps, database, ownUid: process.getuid?.() ?? 0 }),
    );
    await group.startOne(front);
    await group.startOne(new LocalSocketServer(layout.socket, api));
    const metricsServer = metricsListen
      ? await group.startOne(
          new MetricsServer({
            listen: metricsListen,
            render: () => metrics.render(),
            contentType: metrics.contentType,
            logger,
          }),
        )
      : undefined;
    status.state = 'running';
    logger.info({ listen: front.addresses(), admin: adminListener.address() }, 'manager ready');

    const file = logFile;
    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      oneTimePassword,
      addresses: () => front.addresses(),
      adminAddress: () => adminListener.address(),
      metricsAddress: () => metricsServer?.address(),
      close: () =>
        (closing ??= (async () => {
          status.state = 'stopping';
          logger.info('manager stopping');
          try {
            await group.close();
          } finally {
            await front.close();
            await adminListener.close();
            logger.info('manager stopped');
            await file.close();
          }
        })()),
      destroy: () => {
        group.destroy();
        front.destroy();
        adminListener.destroy();
      },
    };
  } catch (error) {
    await group.close().catch(() => undefined);
    await front.close();
    await adminListener.close();
    await logFile?.close();
    throw error;
  }
}

/** How an address is written in a URL to open (an unspecified one as `localhost`). */
function urlOf({ scheme, host, port }: FrontAddress, path: string): string {
  const shown =
    host === '' || host === '0.0.0.0' || host === '::'
      ? 'localhost'
      : host.includes(':')
        ? `[${host}]`
        : host;
  const standard = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  return `${scheme}://${shown}${standard ? '' : `:${port}`}${path}`;
}

/**
 * Runs the daemon until SIGTERM or SIGINT. Resolves with the process exit code: 0 after a
 * clean shutdown, 2 when the start is impossible as configured (bad config, port in use,
 * unusable data folder), 1 for anything else. A second signal forces the shutdown.
 */
export async function runDaemon(input: DaemonInput): Promise<number> {
  const print = (text: string) => input.stdout.write(`${text}\n`);
  const fail = (error: unknown): number => {
    if (error instanceof AppvisorError) {
      input.stderr.write(`appvisor: error ${error.code}: ${error.message}\n`);
      return startupCodes.has(error.code) ? 2 : 1;
    }
    input.stderr.write(`appvisor: error INTERNAL: ${(error as Error).message}\n`);
    return 1;
  };

  let manager: Manager;
  try {
    const config = await loadConfig({
      flags: input.flags,
      env: input.env,
      cwd: input.cwd,
      isRoot: process.getuid?.() === 0,
      ...(input.configFile ? { file: input.configFile } : {}),
    });
    manager = await startManager(config, input);
  } catch (error) {
    return fail(error);
  }
  // From here on nothing that escaped is fatal: logged, and the manager goes on serving.
  keepAlive(process, manager.logger);

  // One write, so that a reader never sees half of it.
  const lines = [`appvisor ${version} is ready (pid ${process.pid})`];
  const adminAt = manager.adminAddress();
  if (adminAt) lines.push(`  admin URL: ${urlOf(adminAt, '/manager/')}`);
  for (const address of manager.addresses()) lines.push(`  front URL: ${urlOf(address, '/')}`);
  if (manager.oneTimePassword) {
    lines.push(`  one-time admin password: ${manager.oneTimePassword}`);
    lines.push('  (shown only now; set your own with `appvisor admin password --set`)');
  }
  const metricsAt = manager.metricsAddress();
  if (metricsAt) {
    const host = metricsAt.host.includes(':') ? `[${metricsAt.host}]` : metricsAt.host;
    lines.push(`  metrics URL: http://${host}:${metricsAt.port}/metrics (no login)`);
  }
  lines.push(`  data folder: ${manager.config.data}`);
  print(lines.join('\n'));

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (name: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        manager.logger.warn({ signal: name }, 'second signal: stopping at once');
        manager.destroy();
        resolve(1);
        return;
      }
      manager.logger.info({ signal: name }, 'signal received');
      const timer = setTimeout(() => {
        manager.logger.error('shutdown took too long: stopping at once');
        manager.destroy();
        resolve(1);
      }, manager.config.shutdown.graceSeconds * 1000);
      manager.close().then(
        () => {
          clearTimeout(timer);
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(timer);
          manager.logger.error({ err: error }, 'shutdown failed');
          manager.destroy();
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `node dist/src/main.js [daemon options]` (what `npm start` runs): the same as `appvisor daemon`. */
async function main(): Promise<void> {
  const { run } = await import('./cli/index.js');
  process.exit(await run(['daemon', ...process.argv.slice(2)]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  void main();
}
