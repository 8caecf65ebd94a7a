/**
 * The manager's composition root and the entry point of `npm start` / `appvisor daemon`.
 * Only this file and src/cli/index.ts touch the process (environment, signals, exit); how each
 * part is configured, linked and run as a daemon is in src/manager/.
 */
import { pathToFileURL } from 'node:url';
import { apiPrefix, buildApi, LocalSocketServer } from './api/index.js';
import { AlarmNotifier, AlarmService, CertificateWatch } from './core/alarms/index.js';
import { AppService } from './core/apps/index.js';
import { AppStoreService } from './core/appstore/index.js';
import { AdminAuth, InstanceGrants } from './core/auth/index.js';
import type { Config } from './core/config/index.js';
import { lockDownServer, watchDatabaseDown } from './core/database/index.js';
import { DataDir } from './core/datadir/index.js';
import { DiskWatch } from './core/disk/index.js';
import {
  AppHosting,
  AppSync,
  ClusterInstances,
  ClusterOps,
  NodeMembership,
  PeerCallSigner,
  PeerRoutes,
  peerApiHandler,
} from './core/nodes/index.js';
import { EventLog } from './core/events/index.js';
import { AdminListener, Front } from './core/front/index.js';
import { BackupService } from './core/backup/index.js';
import { InstanceService, instanceDatabases } from './core/instances/index.js';
import {
  MetricsServer,
  MonitorSampler,
  PrometheusExporter,
  parseListen,
} from './core/monitor/index.js';
import { SettingsService } from './core/settings/index.js';
import { ManagerStatus } from './core/status/index.js';
import { Store } from './core/store/index.js';
import { ConfigTransfer } from './core/transfer/index.js';
import { CertificateStore } from './core/tls/index.js';
import { once } from './lib/lifecycle.js';
import { apiContext } from './manager/api-context.js';
import { runManager, type DaemonInput, type Manager, type StartInput } from './manager/daemon.js';
import { databaseServer } from './manager/database.js';
import {
  adminAuthOptions,
  adminListenerOptions,
  appServiceOptions,
  appStoreOptions,
  backupServiceOptions,
  diskWatchOptions,
  frontOptions,
  instanceServiceOptions,
  monitorOptions,
  metricsServerOptions,
  nodeMembershipOptions,
  notifierOptions,
} from './manager/options.js';
import { ManagerParts, partOf, portsOf } from './manager/parts.js';
import { openSandbox } from './manager/sandbox.js';
import {
  alarmsInStore,
  certificateUsers,
  eventsInStore,
  hostInstancesInServices,
  routeFront,
} from './manager/wiring.js';

export type { DaemonInput, Manager } from './manager/daemon.js';

/**
 * Starts every part of the manager in order; each is closed in reverse order when the manager
 * stops, or at once when a later part fails to start. Longer than a function should be, on
 * purpose: it is the composition root, one list of the parts in start order. It only makes
 * parts and hands them to each other: their options are in manager/options.ts, the links
 * between them in manager/wiring.ts.
 */
export async function startManager(config: Config, io: StartInput): Promise<Manager> {
  const startedAt = new Date();
  const parts = new ManagerParts(io.stderr);
  try {
    // The ports first, before anything is made: a taken one fails the start at once.
    const front = new Front(frontOptions(config, parts.consoleLogger));
    await parts.start(portsOf(front));
    const adminListener = await parts.start(
      new AdminListener(adminListenerOptions(config, parts.consoleLogger)),
    );
    const dataDir = await parts.start(new DataDir(config.data));
    const basis = parts.openLog(config, dataDir, process.getuid?.() === 0);
    const { layout, nodeId, logger } = basis;
    const events = await parts.start(new EventLog({ logger, nodeId }));
    const alarms = await parts.start(
      new AlarmService({ logger, events, nodeId, cluster: basis.config.cluster.name !== null }),
    );
    const certificateWatch: { current?: CertificateWatch } = {};
    const certificates = new CertificateStore(
      layout.tls,
      certificateUsers([front, adminListener], certificateWatch),
      alarms,
    );
    await certificates.load();
    const database = await databaseServer(basis, io.stopping);
    const databaseDown = watchDatabaseDown(database, alarms);
    await parts.start(database);
    const store = await parts.start(new Store({ database, logger }));
    // Admitted to the platform before anything else is written to its store.
    const membership = await parts.start(
      new NodeMembership(nodeMembershipOptions(basis, { store, events, alarms, front })),
    );
    // On a cluster the nodes call each other's API for what another node owns.
    const signer = config.cluster.name === null ? undefined : new PeerCallSigner(basis.secretKey);
    await parts.start(eventsInStore(events, store));
    await parts.start(alarmsInStore(alarms, store, { databaseDown, certificates }));
    const auth = await parts.start(new AdminAuth(adminAuthOptions(basis, store)));
    const oneTimePassword = await auth.ensurePassword(config.admin.initialPassword);
    const limits = openSandbox(basis);
    const grants = new InstanceGrants({
      ttlMs: config.admin.sessionHours * 3600_000,
      // On a cluster each grant names this node: another node's front asks it to trade it.
      ...(config.cluster.name === null ? {} : { node: nodeId }),
    });
    // Apps ask the subsystems above it, made after it, only when it needs them.
    const above: { instances?: InstanceService; backups?: BackupService } = {};
    const apps = new AppService(
      appServiceOptions(basis, {
        instances: () => above.instances,
        updateGuard: () => above.backups,
        store,
        events,
        alarms,
        sandbox: limits.sandbox,
        resourceLimits: limits.resourceLimits,
      }),
    );
    if (database.mode === 'embedded') await lockDownServer(database);
    // Instances start before apps: they must host the services that autostart apps bring up.
    const instances = await parts.start(
      new InstanceService({
        ...instanceServiceOptions(basis, {
          store,
          database: instanceDatabases(database),
          apps,
          events,
          alarms,
        }),
        // On a cluster an instance taken over brings its folder from its newest backup.
        ...(config.cluster.name === null
          ? {}
          : {
              takeoverFiles: (id: string, folder: string) =>
                above.backups?.filesForTakeover(id, folder) ?? Promise.resolve(null),
            }),
      }),
    );
    above.instances = instances;
    // On a cluster the store says which node owns each instance: what another node took
    // over from a lost one, this node adopts; what it lost while cut off, it lets go.
    if (config.cluster.name !== null) {
      membership.onRenewal(async () => {
        await instances.reconcile();
      });
    }
    hostInstancesInServices(apps, instances);
    await parts.start(apps);
    // On a cluster an app runs where its instances are (and where its autostart is on).
    if (config.cluster.name !== null) {
      const hosting = await parts.start(
        new AppHosting({
          apps: {
            list: () => apps.list(),
            start: (id) => apps.startApp(id),
            stop: (id) => apps.stopApp(id),
          },
          hosted: () =>
            new Set(instances.list({}).flatMap((view) => (view.enabled ? [view.app] : []))),
          events,
          logger,
        }),
      );
      instances.onStateChange(() => void hosting.check());
      membership.onRenewal(() => hosting.check());
    }
    // The alarm URL and recipients of the configuration apply while their settings are empty.
    const settings = new SettingsService(store, {
      alarmUrl: config.alarms.url,
      alarmEmail: config.alarms.smtp.to,
    });
    const backups = await parts.start(
      new BackupService(
        backupServiceOptions(basis, { store, instances, apps, events, alarms }, settings),
      ),
    );
    // Installs back an app's instances up before replacing it from now on.
    above.backups = backups;
    // The schedule is the platform's: a change made on another node applies here too.
    if (config.cluster.name !== null) membership.onRenewal(() => backups.reloadSchedule());
    const appStore = await parts.start(
      new AppStoreService(
        appStoreOptions(basis, { store, apps, instances, backups, alarms, events }),
      ),
    );
    // On a cluster every node installs the platform's apps (docs/cluster.md, "Apps"), one node
    // at a time, each as an install by hand: backup, wait until ready, or rollback (the app
    // store's), which halts the roll. Made after the app store, closed before it.
    const appSync =
      config.cluster.name === null
        ? undefined
        : await parts.start(
            new AppSync({
              store,
              apps: {
                archive: (id, target) => apps.archiveInstalled(id, target, { reproducible: true }),
                install: (archive, options) => appStore.installFile(archive, options),
                uninstall: (id) => apps.uninstall(id),
                updating: (id) =>
                  appStore.operations().some((op) => op.app === id && op.finishedAt === null),
              },
              events,
              alarms,
              logger,
              nodeId,
              intervalMs: (config.cluster.leaseSeconds * 1000) / 3,
              maxPackageBytes: config.apps.maxPackageBytes,
            }),
          );
    const notifier = await parts.start(new AlarmNotifier(notifierOptions(basis, alarms, settings)));
    // A new alarm URL or recipient: a notification waiting for its retry goes there at once.
    settings.onAlarmTargetsChange(() => {
      notifier.retargeted();
    });
    const disk = await parts.start(new DiskWatch(diskWatchOptions(basis, alarms)));
    certificateWatch.current = await parts.start(
      new CertificateWatch({ alarms, certificate: () => certificates.status() }),
    );
    // Checked before anything listens, so that a bad address stops the start at once.
    const metricsListen = config.monitor.metricsListen
      ? parseListen(config.monitor.metricsListen, config.monitor.metricsAllowRemote)
      : undefined;
    const monitor = await parts.start(
      new MonitorSampler(monitorOptions(basis, { apps, instances, database, store })),
    );
    // On a cluster every series names its node (docs/monitoring.md).
    const metrics = new PrometheusExporter(
      () => monitor.current(),
      config.cluster.name === null ? {} : { node: nodeId },
    );
    const status = new ManagerStatus({
      nodeId,
      cluster: membership,
      dataDir: layout.root,
      startedAt,
      front,
      adminListener,
      store,
      database,
      monitor,
      backups,
      apps,
      limits: limits.status,
      alarms,
      appStore,
    });
    const clusterOps =
      signer &&
      appSync &&
      new ClusterOps({
        membership,
        signer,
        appSync,
        self: nodeId,
        reconcile: async () => {
          await instances.reconcile();
          await peers?.reload();
        },
        backupTarget: () => backups.schedule().target,
        backUp: (id, target) => backups.create(id, { target }),
      });
    const configTransfer = new ConfigTransfer({
      settings,
      certificates,
      sources: appStore.sources,
      appStore,
      apps,
      // On a cluster the file is the platform's: every node's instances, each acted on by its owner.
      instances: clusterOps
        ? new ClusterInstances({ local: instances, cluster: clusterOps })
        : instances,
      backups,
      events,
      logger,
    });
    const api = await buildApi(
      apiContext(basis, {
        configTransfer,
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
        nodes: membership,
        cluster: clusterOps,
        settings,
        monitor,
        metrics,
        status,
      }),
    );
    await parts.start(partOf('api', { close: () => api.close() }));
    adminListener.setHandler(api.handler);
    // On a cluster the front also serves the other nodes' instances, forwarding to them.
    const peers =
      config.cluster.name === null ? undefined : new PeerRoutes({ store, nodeId, logger });
    if (peers) {
      await peers.reload();
      membership.onRenewal(() => peers.reload());
    }
    routeFront(front, {
      adminListener,
      grants,
      instances,
      apps,
      database,
      peers: peers && {
        routes: peers,
        secretKey: basis.secretKey,
        api: peerApiHandler(signer!, { socket: layout.socket, prefix: apiPrefix }),
        exchangeGrant: (node, token, challenge) =>
          clusterOps!.exchangeGrant(node, token, challenge),
        self: nodeId,
      },
    });
    await parts.start(front);
    await parts.start(new LocalSocketServer(layout.socket, api));
    const metricsServer =
      metricsListen &&
      (await parts.start(new MetricsServer(metricsServerOptions(basis, metricsListen, metrics))));
    status.state = 'running';
    logger.info({ listen: front.addresses(), admin: adminListener.address() }, 'manager ready');

    return {
      config,
      logger,
      oneTimePassword,
      addresses: () => front.addresses(),
      adminAddress: () => adminListener.address(),
      metricsAddress: () => metricsServer?.address(),
      close: once(async () => {
        status.state = 'stopping';
        logger.info('manager stopping');
        await parts.close('manager stopped');
      }),
      destroy: () => {
        parts.destroy();
      },
    };
  } catch (error) {
    await parts.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Runs the daemon in this process until SIGTERM or SIGINT and resolves with the process exit
 * code (see {@link runManager}).
 */
export function runDaemon(input: DaemonInput): Promise<number> {
  return runManager(input, startManager, process);
}

/** `node dist/src/main.js [daemon options]` (what `npm start` runs): the same as `appvisor daemon`. */
async function main(): Promise<void> {
  const { run } = await import('./cli/index.js');
  process.exit(await run(['daemon', ...process.argv.slice(2)]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  void main();
}
