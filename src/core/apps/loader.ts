import { join } from 'node:path';
import { noPause } from '../../lib/pause-points.js';
import type { AppRecord, Manifest } from '../catalog/index.js';
import { AppLog, defaultLogLimits, type LogLimits } from '../logs/index.js';
import {
  AppSupervisor,
  defaultRestartPolicy,
  processLauncher,
  systemClock,
  type ProcessSpec,
  type RestartPolicy,
  type SupervisorNotice,
} from '../supervisor/index.js';
import type { AppContext } from './context.js';
import { afterExit, limited, limitsOf } from './limits.js';
import { httpSocketPath, prepareSocketDir } from './sdk.js';
import {
  armReadyTimeout,
  closeChannel,
  messageLimiter,
  openChannel,
  serviceLimitsOf,
} from './service-channel.js';
import type { AppStatus, LoadedApp } from './types.js';

const defaultEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  TZ: Intl.DateTimeFormat().resolvedOptions().timeZone,
};

/** The stop grace time: app.json's, else the configured one. */
export function graceMs(ctx: AppContext, manifest: Manifest | undefined): number {
  return (manifest?.stop?.graceSeconds ?? 0) * 1000 || (ctx.options.graceMs ?? 5_000);
}

function policy(manifest: Manifest): RestartPolicy {
  return { ...defaultRestartPolicy, ...manifest.restart };
}

/** The app's log limits: its settings, else app.json's, else the defaults. */
export function logLimits(record: AppRecord, manifest: Manifest): LogLimits {
  return {
    maxBytes: record.logMaxBytes ?? manifest.log?.maxBytes ?? defaultLogLimits.maxBytes,
    files: record.logFiles ?? manifest.log?.files ?? defaultLogLimits.files,
  };
}

/**
 * Loads an installed app: its user made sure of, its socket folder ready (services), its log
 * opened and its supervisor made (stopped). An app loaded already only takes its new settings
 * and manifest.
 */
export async function loadApp(ctx: AppContext, record: AppRecord): Promise<LoadedApp> {
  const { catalog, users, options } = ctx;
  const existing = ctx.apps.get(record.id);
  if (existing) {
    existing.record = record;
    existing.manifest = await catalog.manifest(record.id).catch(() => ({}));
    await existing.log.reconfigure(logLimits(record, existing.manifest));
    return existing;
  }
  if (record.unixUser && !users.knows(record.unixUser)) {
    // Recorded for this app in the store: its own, made again if the system lost it.
    await users.ensure(record.unixUser);
  } else if (!record.unixUser && options.isRoot) {
    // Installed while the manager was not root, or it shared a user with another app (store
    // migration 6): never run it as root or as that other app.
    const user = await users.create(record.id);
    await catalog.setUnixUser(record.id, user.name);
    await users.giveDataFolder(record.id, user);
    record.unixUser = user.name;
  }
  const manifest: Manifest = await catalog.manifest(record.id).catch(() => ({}));
  if (manifest.instances) {
    await prepareSocketDir(options.runDir, record.id, users.owner(record.unixUser) ?? null);
  }
  const log = new AppLog(join(options.logsDir, `${record.id}.log`), logLimits(record, manifest));
  const app: LoadedApp = {
    record,
    manifest,
    log,
    limiter: messageLimiter(ctx, () => app),
    httpSocket: null,
    oomKillsAtStart: 0,
    memoryKills: 0,
    pidWrites: Promise.resolve(),
    supervisor: new AppSupervisor({
      id: record.id,
      spec: () => limited(ctx, app, processSpec(ctx, app)),
      policy: () => policy(app.manifest),
      graceMs: () => graceMs(ctx, app.manifest),
      clock: options.clock ?? systemClock,
      launcher: options.launcher ?? processLauncher,
      readiness: () => (app.manifest.instances ? 'message' : 'spawn'),
      attach: (process) => {
        log.attach(process.stdout, 'out');
        log.attach(process.stderr, 'err');
        openChannel(ctx, app, process);
      },
      notify: (notice) => {
        onNotice(ctx, app, notice);
      },
    }),
  };
  ctx.apps.set(record.id, app);
  return app;
}

/** How the app's `run` is started: as its user, in its data folder, with its environment. */
function processSpec(ctx: AppContext, app: LoadedApp): ProcessSpec {
  const { catalog, options } = ctx;
  const { id } = app.record;
  const home = catalog.dataFolder(id);
  const owner = ctx.users.owner(app.record.unixUser);
  return {
    command: join(catalog.folder(id), 'run'),
    args: [],
    cwd: home,
    env: {
      ...defaultEnv,
      ...options.baseEnv,
      HOME: home,
      APPVISOR_APP_ID: id,
      APPVISOR_APP_DIR: catalog.folder(id),
      APPVISOR_DATA_DIR: home,
      ...(app.manifest.instances
        ? {
            APPVISOR_HTTP_SOCKET: httpSocketPath(options.runDir, id),
            ...(ctx.sdkUrl() ? { APPVISOR_SDK: ctx.sdkUrl()! } : {}),
          }
        : {}),
      ...(options.nodePath ? { APPVISOR_NODE: options.nodePath } : {}),
    },
    ipc: app.manifest.instances === true,
    maxMessageBytes: serviceLimitsOf(ctx).maxMessageBytes,
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  };
}

/**
 * Records the running process's pid (null: none), in the order of the notices: the start
 * looks for what a killed manager left by it. `pause` is a test-only pause before the write.
 */
function writePid(ctx: AppContext, app: LoadedApp, pid: number | null, pause?: string): void {
  const { id } = app.record;
  app.pidWrites = app.pidWrites
    .then(async () => {
      if (pause) await (ctx.options.pause ?? noPause)(pause);
      await ctx.catalog.setPid(id, pid);
    })
    .catch(() => undefined);
}

/** What the supervisor tells of the app's process: to its log, the store, events and alarms. */
function onNotice(ctx: AppContext, app: LoadedApp, notice: SupervisorNotice): void {
  const { id } = app.record;
  ctx.emitter.emit('app.changed', { app: id });
  const { alarms } = ctx.options;
  switch (notice.type) {
    case 'spawned':
      app.log.note(`started, pid ${notice.pid}`);
      armReadyTimeout(ctx, app);
      writePid(ctx, app, notice.pid, 'app.spawned');
      break;
    case 'exited':
      onExit(ctx, app, notice);
      break;
    case 'crash-loop':
      if (notice.raised)
        alarms.raise(
          'crash-loop',
          'error',
          `${id} failed ${notice.failures} times within 10 minutes`,
          id,
        );
      else alarms.clear('crash-loop', `${id} runs stably again`, id);
      break;
    case 'fatal':
      if (notice.raised)
        alarms.raise(
          'app-fatal',
          'critical',
          `${id} gave up after ${notice.failures} failures`,
          id,
        );
      else alarms.clear('app-fatal', `${id} was started or stopped again`, id);
      break;
    case 'state':
      if (notice.state === 'backoff') {
        const next = app.supervisor.status().nextRestartAt;
        app.log.note(`restarting at ${next ?? 'once'}`);
      }
      break;
  }
}

function onExit(
  ctx: AppContext,
  app: LoadedApp,
  notice: Extract<SupervisorNotice, { type: 'exited' }>,
): void {
  const { id } = app.record;
  const { kind, code, signal } = notice.exit;
  app.log.note(
    `ended (${kind}${code !== null ? `, code ${code}` : ''}${signal ? `, ${signal}` : ''})${notice.error ? `: ${notice.error}` : ''}`,
  );
  writePid(ctx, app, null);
  afterExit(ctx, app);
  clearTimeout(app.readyTimer);
  closeChannel(ctx, app);
  if (kind === 'error' || kind === 'signal') {
    ctx.options.events.record({
      kind: 'app.crashed',
      severity: 'warning',
      subject: id,
      text: `${id} ended unexpectedly (${kind}${code !== null ? ` ${code}` : ''}${signal ? ` ${signal}` : ''})`,
    });
  }
}

/** `status(id)` of an app. */
export async function statusOf(ctx: AppContext, app: LoadedApp): Promise<AppStatus> {
  const supervised = app.supervisor.status();
  return {
    id: app.record.id,
    version: app.manifest.version ?? null,
    build: app.manifest.build ?? null,
    title: app.manifest.title ?? null,
    runnable: await ctx.catalog.isRunnable(app.record.id),
    autostart: app.record.autostart,
    instances: app.manifest.instances === true,
    httpSocket: app.httpSocket,
    ...supervised,
    log: logLimits(app.record, app.manifest),
    limits: {
      ...limitsOf(ctx, app.record),
      enforcement: ctx.options.sandbox?.enforcement ?? 'none',
      memoryKills: app.memoryKills,
    },
  };
}
