import { join } from 'node:path';
import { blockingFolder } from '../../lib/folder-access.js';
import { checkAppId, type AppSettingsChange } from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';
import { clearMisbehaved } from './app-alarms.js';
import type { AppContext } from './context.js';
import { checkLimits, clearMemoryAlarm, limitsOf } from './limits.js';
import type { AppStatus, LoadedApp } from './types.js';

/** What start, stop and restart answer: whether anything changed, and the status after. */
export interface ControlResult {
  changed: boolean;
  status: AppStatus;
}

async function requireRunnable(ctx: AppContext, id: string): Promise<void> {
  if (!(await ctx.catalog.isRunnable(id))) {
    throw new AppvisorError('NOT_RUNNABLE', `${id} has no run file`);
  }
}

/**
 * As root, apps run as their own users, who must be able to enter the data folder. Checked
 * before a start so that the admin reads the cause, not a spawn EACCES in the log.
 */
export async function requireReachable(ctx: AppContext, app: LoadedApp): Promise<void> {
  const name = app.record.unixUser;
  const owner = ctx.users.owner(name);
  if (!owner || !name) return;
  const blocked = await blockingFolder(join(ctx.catalog.folder(app.record.id), 'run'), {
    name,
    uid: owner.uid,
    gid: owner.gid,
    home: '/',
  });
  if (blocked) {
    throw new AppvisorError(
      'DATA_DIR_UNUSABLE',
      `apps run as their own users, who cannot enter ${blocked.dir} (mode ${blocked.mode.toString(8)}); allow others to pass (chmod o+x ${blocked.dir}) or move the data folder`,
    );
  }
}

/** Asks a service to end cleanly before the SIGTERM that follows. */
export function stopProcess(app: LoadedApp): Promise<{ changed: boolean }> {
  try {
    app.channel?.send({ type: 'shutdown' });
  } catch {
    // the channel is closing already
  }
  return app.supervisor.stop();
}

/**
 * Runs an operation on an installed, runnable app, after the operations on it before; `reach`:
 * its user must be able to reach its folder (the operation may start it).
 */
async function operate<T>(
  ctx: AppContext,
  id: string,
  reach: boolean,
  work: (app: LoadedApp) => Promise<T>,
): Promise<T> {
  checkAppId(id);
  return ctx.queue.run(id, async () => {
    const app = ctx.get(id);
    await requireRunnable(ctx, id);
    if (reach) await requireReachable(ctx, app);
    return work(app);
  });
}

/** Starts an app; `changed` is false when it was already running or starting. */
export function startApp(ctx: AppContext, id: string): Promise<ControlResult> {
  return operate(ctx, id, true, async (app) => {
    const changed = app.supervisor.start();
    if (changed) app.log.note('start requested');
    clearMisbehaved(ctx, id, 'started');
    if (changed) clearMemoryAlarm(ctx, id, `${id} was started again`);
    return { changed, status: await ctx.statusOf(app) };
  });
}

/** Stops an app (TERM, then KILL after the grace time); resolves when it has ended. */
export function stopApp(ctx: AppContext, id: string): Promise<ControlResult> {
  return operate(ctx, id, false, async (app) => {
    if (app.supervisor.state !== 'stopped') app.log.note('stop requested');
    const { changed } = await stopProcess(app);
    clearMisbehaved(ctx, id, 'stopped');
    return { changed, status: await ctx.statusOf(app) };
  });
}

/** Stops the app if it runs and starts it again. */
export function restartApp(ctx: AppContext, id: string): Promise<ControlResult> {
  return operate(ctx, id, true, async (app) => {
    app.log.note('restart requested');
    await stopProcess(app);
    app.supervisor.start();
    clearMisbehaved(ctx, id, 'restarted');
    clearMemoryAlarm(ctx, id, `${id} was restarted`);
    return { changed: true, status: await ctx.statusOf(app) };
  });
}

/** Refuses log settings an app's log cannot live with. */
function checkLogSettings(change: AppSettingsChange): void {
  if (change.logMaxBytes != null && change.logMaxBytes < 64 * 1024) {
    throw new AppvisorError('BAD_REQUEST', 'the log size must be at least 65536 bytes', {
      field: 'logMaxBytes',
    });
  }
  if (change.logFiles != null && (change.logFiles < 1 || change.logFiles > 100)) {
    throw new AppvisorError('BAD_REQUEST', 'the number of log files must be 1 to 100', {
      field: 'logFiles',
    });
  }
}

/**
 * Stores settings at once; never starts or stops the app. New resource limits are written
 * to the app's control groups at once (a memory cap below what it uses now makes the kernel
 * reclaim or kill) and apply in full from its next start.
 */
export async function configure(
  ctx: AppContext,
  id: string,
  change: AppSettingsChange,
): Promise<AppStatus> {
  return operate(ctx, id, false, async (app) => {
    checkLogSettings(change);
    checkLimits(change);
    await ctx.catalog.update(id, change);
    const record = await ctx.catalog.get(id);
    if (record) await ctx.load(record);
    if (
      change.memoryMaxBytes !== undefined ||
      change.cpuWeight !== undefined ||
      change.pidsMax !== undefined
    ) {
      clearMemoryAlarm(ctx, id, `${id}'s limits were changed`);
      if (app.supervisor.state !== 'stopped') {
        try {
          ctx.options.sandbox?.apply(id, limitsOf(ctx, app.record));
        } catch (error) {
          app.log.note(`the new limits apply from the next start: ${(error as Error).message}`);
        }
      }
    }
    return ctx.statusOf(app);
  });
}
