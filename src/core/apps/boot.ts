import type { AppContext } from './context.js';
import { adoptAlarms } from './app-alarms.js';
import { dropCutOffUsers, stopLeftover, stopStrays, type LeftoverOptions } from './leftovers.js';
import { graceMs } from './loader.js';
import { requireReachable } from './control.js';
import type { LoadedApp } from './types.js';

/**
 * Boot: repair interrupted installs, stop processes a previous manager left running, drop
 * apps whose folder is gone (with an event), start the runnable autostart ones.
 */
export async function bootApps(ctx: AppContext): Promise<void> {
  const { catalog, options } = ctx;
  for (const id of await catalog.recover()) {
    options.events.record({
      kind: 'app.recovered',
      severity: 'warning',
      subject: id,
      text: `an interrupted install of ${id} was rolled back`,
    });
  }
  const leftovers: LeftoverOptions = {
    catalog,
    logger: options.logger,
    sandbox: options.sandbox,
    graceMs: graceMs(ctx, undefined),
  };
  const loaded: LoadedApp[] = [];
  for (const record of await catalog.list()) {
    if (record.pid !== null) await stopLeftover(leftovers, record);
    await stopStrays(leftovers, record);
    if (!(await catalog.hasFolder(record.id))) {
      await catalog.remove(record.id);
      // Its user goes with it, as with an uninstall: nothing would ever remove it.
      if (record.unixUser) await ctx.users.drop(record.unixUser).catch(() => undefined);
      options.events.record({
        kind: 'app.missing',
        severity: 'warning',
        subject: record.id,
        text: `the folder of ${record.id} is gone: removed from the list`,
      });
      continue;
    }
    loaded.push(await ctx.load(record));
  }
  await dropCutOffUsers(leftovers, ctx.journal);
  // Before any start: a start must find the alarms it clears.
  adoptAlarms(ctx);
  await autostart(ctx, loaded);
}

/** Starts the runnable apps whose autostart is on; one its user cannot reach is an event. */
async function autostart(ctx: AppContext, loaded: LoadedApp[]): Promise<void> {
  for (const app of loaded) {
    const { record } = app;
    if (!record.autostart || !(await ctx.catalog.isRunnable(record.id))) continue;
    try {
      await requireReachable(ctx, app);
    } catch (error) {
      ctx.options.events.record({
        kind: 'app.start-failed',
        severity: 'error',
        subject: record.id,
        text: (error as Error).message,
      });
      continue;
    }
    app.log.note('starting (autostart)');
    app.supervisor.start();
  }
}
