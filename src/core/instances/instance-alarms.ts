/** The alarms that belong to an instance, which end with it. */
import { reconcileAlarms, type ActiveAlarm, type AlarmRaiser } from '../alarms/index.js';
import type { Row } from './model.js';

/**
 * Raised while an instance is `failed` (its service refused or never answered its start: a
 * failed migration, a crash in `start`), cleared when it is ready again or disabled.
 */
export const instanceFailedAlarm = 'instance-failed';

/** Alarms about one instance (subject: its id) that end with it, besides its app's own. */
const instanceAlarmCodes = ['backup-failed', 'instance-large', instanceFailedAlarm];

/**
 * The app of an app's own alarm (`app:<app>:<code>`) about one of its instances; undefined for
 * other alarms and for those about the app as a whole (the subject is the app id).
 */
function instanceAlarm(alarm: ActiveAlarm): string | undefined {
  const app = /^app:([^:]+):/.exec(alarm.code)?.[1];
  return app !== undefined && alarm.subject !== app ? app : undefined;
}

/**
 * Clears the alarms about a deleted instance: those of {@link instanceAlarmCodes} and its
 * app's (`app:<app>:*`) with the instance as subject. An app's alarms about itself have the
 * app's id as subject: when the instance has its app's id, its app's codes are left alone.
 */
export function clearInstanceAlarms(alarms: AlarmRaiser, row: Row): void {
  const appPrefix = `app:${row.app}:`;
  for (const alarm of alarms.active()) {
    if (alarm.subject !== row.id) continue;
    if (
      instanceAlarmCodes.includes(alarm.code) ||
      (alarm.code.startsWith(appPrefix) && row.id !== row.app)
    ) {
      alarms.clear(alarm.code, `instance ${row.id} was deleted`, row.id);
    }
  }
}

/**
 * Clears an app's alarms about instances deleted while no manager ran (they would never be
 * cleared otherwise); `appOf` gives the app of a loaded instance.
 */
export function reconcileInstanceAlarms(
  alarms: AlarmRaiser,
  appOf: (id: string) => string | undefined,
): void {
  reconcileAlarms(alarms, {
    owns: (alarm) => instanceAlarm(alarm) !== undefined,
    holds: (alarm) => appOf(alarm.subject) === instanceAlarm(alarm),
    why: (alarm) => `instance ${alarm.subject} no longer exists`,
  });
}
