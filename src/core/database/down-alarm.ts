import type { AlarmRaiser } from '../alarms/index.js';
import type { DatabaseServer } from './types.js';

const code = 'database-down';
const subject = 'database';

/** What {@link watchDatabaseDown} gives back. */
export interface DatabaseDownAlarm {
  /**
   * Clears an alarm the previous manager left active once the store is attached, when the server
   * runs now: that outage is over.
   */
  reconcile(): void;
  /** Stops watching. */
  dispose(): void;
}

/**
 * The `database-down` alarm policy (docs/alarms.md): raised, critical, when the server goes
 * down (it died, or an external one stopped answering), cleared when it accepts connections
 * again.
 */
export function watchDatabaseDown(
  database: Pick<DatabaseServer, 'state' | 'onStateChange'>,
  alarms: Pick<AlarmRaiser, 'raise' | 'clear'>,
): DatabaseDownAlarm {
  const dispose = database.onStateChange((change) => {
    if (change.state === 'restarting') {
      alarms.raise(code, 'critical', change.reason ?? 'the database server is down', subject);
    } else if (change.state === 'running' && change.previous === 'restarting') {
      alarms.clear(code, 'the database server is running again', subject);
    }
  });
  return {
    reconcile: () => {
      if (database.state === 'running')
        alarms.clear(code, 'the database server is running', subject);
    },
    dispose,
  };
}
