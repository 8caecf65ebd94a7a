import { reconcileAlarms, type ActiveAlarm } from '../alarms/index.js';
import type { AppContext } from './context.js';

/** Alarms the app service raises about an app (the subject is the app id). */
const appAlarmCodes = new Set([
  'crash-loop',
  'app-fatal',
  'app-memory-limit',
  'service-misbehaved',
]);

/**
 * The app an alarm is about, when it goes with the app: one the app service raises about it,
 * or one of the app's own (`app:<app>:<code>`, raised over the service protocol).
 */
export function appOfAlarm(alarm: ActiveAlarm): string | undefined {
  if (appAlarmCodes.has(alarm.code)) return alarm.subject;
  const own = /^app:([^:]+):/.exec(alarm.code);
  return own?.[1];
}

/**
 * The alarms of the previous run that concern apps: those of apps no longer installed are
 * cleared; the supervisors take over the crash-loop and app-fatal alarms of the others, so
 * that a stable run or a start clears them as it would have before the restart.
 */
export function adoptAlarms(ctx: AppContext): void {
  const held = reconcileAlarms(ctx.options.alarms, {
    owns: (alarm) => appOfAlarm(alarm) !== undefined,
    holds: (alarm) => ctx.apps.has(appOfAlarm(alarm)!),
    why: (alarm) => `${appOfAlarm(alarm)!} is no longer installed`,
  });
  for (const alarm of held) {
    const supervisor = ctx.apps.get(alarm.subject)?.supervisor;
    if (alarm.code === 'crash-loop') supervisor?.adopt({ crashLoop: true });
    if (alarm.code === 'app-fatal') supervisor?.adopt({ fatal: true });
  }
}

/** Clears every alarm of an app, its own ones included: nothing would ever clear them. */
export function clearAppAlarms(ctx: AppContext, id: string, why: string): void {
  const { alarms } = ctx.options;
  for (const alarm of alarms.active()) {
    if (appOfAlarm(alarm) === id) alarms.clear(alarm.code, why, alarm.subject);
  }
}

/** The admin started, stopped or restarted the app: its misbehaving is forgiven. */
export function clearMisbehaved(ctx: AppContext, id: string, how: string): void {
  ctx.options.alarms.clear('service-misbehaved', `${id} was ${how} by the admin`, id);
}
