import type { AppRecord, AppSettingsChange } from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';
import { signalGroup, type ProcessSpec, type ResourceLimits } from '../supervisor/index.js';
import type { AppContext } from './context.js';
import type { LoadedApp } from './types.js';

/** Defaults of the resource limits (config `apps.memoryMaxBytes`, `cpuWeight`, `pidsMax`). */
export const defaultResourceLimits: ResourceLimits = {
  memoryMaxBytes: 1024 * 1024 * 1024,
  cpuWeight: 100,
  pidsMax: 512,
};

/** Refuses resource limits outside what the kernel and the apps can live with. */
export function checkLimits(change: AppSettingsChange): void {
  const checks = [
    [
      'memoryMaxBytes',
      16 * 1024 * 1024,
      Number.MAX_SAFE_INTEGER,
      'the memory cap must be at least 16 MiB',
    ],
    ['cpuWeight', 1, 10_000, 'the CPU weight must be 1 to 10000'],
    ['pidsMax', 16, 4_194_304, 'the process limit must be 16 to 4194304'],
  ] as const;
  for (const [field, min, max, message] of checks) {
    const value = change[field];
    if (value != null && (!Number.isInteger(value) || value < min || value > max))
      throw new AppvisorError('BAD_REQUEST', message, { field });
  }
}

/** The app's limits: its own where it has them, else the configured defaults. */
export function limitsOf(ctx: AppContext, record: AppRecord): ResourceLimits {
  const defaults = ctx.options.resourceLimits ?? defaultResourceLimits;
  return {
    memoryMaxBytes: record.memoryMaxBytes ?? defaults.memoryMaxBytes,
    cpuWeight: record.cpuWeight ?? defaults.cpuWeight,
    pidsMax: record.pidsMax ?? defaults.pidsMax,
  };
}

/** The spec inside the app's limits (it joins its control groups before `run` executes). */
export function limited(ctx: AppContext, app: LoadedApp, spec: ProcessSpec): ProcessSpec {
  const { sandbox } = ctx.options;
  if (!sandbox) return spec;
  const wrapped = sandbox.wrap(app.record.id, spec, limitsOf(ctx, app.record));
  app.oomKillsAtStart = sandbox.oomKills(app.record.id);
  return wrapped;
}

/**
 * After the app's process ended: kills what is left in its control groups (a process that
 * left the process group), and tells whether the kernel killed one of them for the memory
 * cap; then the app is restarted by its policy, with the app-memory-limit alarm.
 */
export function afterExit(ctx: AppContext, app: LoadedApp): void {
  const { sandbox } = ctx.options;
  if (!sandbox) return;
  const { id } = app.record;
  sandbox.killAll(id);
  const kills = sandbox.oomKills(id) - app.oomKillsAtStart;
  if (kills <= 0) return;
  app.oomKillsAtStart += kills;
  app.memoryKills += kills;
  const cap = limitsOf(ctx, app.record).memoryMaxBytes;
  const text = `${id} went over its memory cap of ${cap} bytes: the kernel killed it (${app.memoryKills} times since the manager started)`;
  app.log.note(`over the memory cap of ${cap} bytes: killed by the kernel`);
  ctx.options.events.record({
    kind: 'app.memory-limit',
    severity: 'error',
    subject: id,
    text,
  });
  ctx.options.alarms.raise('app-memory-limit', 'error', text, id);
}

/**
 * The kernel may kill a child of the app for the memory cap while the app's first process
 * lives on (cgroup v1 kills one process, not the group): the whole app is killed then, so
 * that it restarts as a whole and {@link afterExit} raises the alarm.
 */
export function checkMemoryKills(ctx: AppContext): void {
  const { sandbox } = ctx.options;
  if (!sandbox) return;
  for (const app of ctx.apps.values()) {
    const pid = app.supervisor.pid;
    const { state } = app.supervisor;
    if (pid === null || (state !== 'running' && state !== 'starting')) continue;
    if (sandbox.oomKills(app.record.id) > app.oomKillsAtStart) {
      app.log.note('a process went over the memory cap: killing the app to restart it');
      signalGroup(pid, 'SIGKILL');
    }
  }
}

/** The admin acted on the app (start, restart, configure, uninstall): the alarm is over. */
export function clearMemoryAlarm(ctx: AppContext, id: string, text: string): void {
  ctx.options.alarms.clear('app-memory-limit', text, id);
}
