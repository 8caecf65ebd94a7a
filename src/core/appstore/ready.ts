import type { AppService, AppStatus } from '../apps/index.js';
import type { InstanceService, InstanceView } from '../instances/index.js';

/**
 * What waiting for an updated app reads, and the word that something changed: the app's
 * process (the supervisor's notices, through the apps subsystem) and its instances' states.
 */
export interface ReadinessWatch {
  status(app: string): Promise<AppStatus>;
  instancesOf(app: string): readonly Pick<InstanceView, 'id' | 'enabled' | 'state' | 'error'>[];
  /** Calls `listener` with the app's id when its process or one of its instances changes. */
  onChange(listener: (app: string) => void): () => void;
}

/** The watch over the apps and instances subsystems. */
export function readinessOf(
  apps: Pick<AppService, 'status' | 'on'>,
  instances: Pick<InstanceService, 'list' | 'onStateChange'>,
): ReadinessWatch {
  return {
    status: (app) => apps.status(app),
    instancesOf: (app) => instances.list({ app }),
    onChange: (listener) => {
      const offApps = apps.on('app.changed', ({ app }) => {
        listener(app);
      });
      const offInstances = instances.onStateChange(listener);
      return () => {
        offApps();
        offInstances();
      };
    },
  };
}

/** How long an updated app must stay ready, the same process, to count as ready. */
export const settleMs = 1500;

/** What one look at the app found: ready (since when), still on its way, or what is wrong. */
type Verdict = { ready: number | null } | { wrong: string };

/**
 * Waits until the app runs and every enabled instance of it is ready; null then, else what
 * is wrong: at once when the app ended (backoff, stopped, fatal) or an instance failed, else
 * when the time is up. It looks again at each change of the app or its instances, when the
 * settle time is over, and once at the deadline: no polling.
 */
export function waitReady(
  watch: ReadinessWatch,
  id: string,
  timeoutMs: number,
  settle = settleMs,
): Promise<string | null> {
  const seen: Seen = { deadline: Date.now() + timeoutMs, timeoutMs, pastDeadline: false };
  const look = () => lookAt(watch, id, seen);
  return new Promise((resolve, reject) => {
    let settleTimer: NodeJS.Timeout | undefined;
    let looking = false;
    let again = false;
    let over = false;
    // The steady time the settle timer was set for: a timer may fire a millisecond before the
    // clock reads its end, and must then count as over rather than set another timer.
    let settledFor: number | null = null;
    const end = (): void => {
      over = true;
      off();
      clearTimeout(settleTimer);
      clearTimeout(deadlineTimer);
    };
    const next = (verdict: Verdict): void => {
      clearTimeout(settleTimer);
      if ('wrong' in verdict) {
        end();
        resolve(verdict.wrong);
      } else if (verdict.ready !== null) {
        const since = verdict.ready;
        const left = since + settle - Date.now();
        if (left <= 0 || settledFor === since) {
          end();
          resolve(null);
        } else {
          settleTimer = setTimeout(() => {
            settledFor = since;
            check();
          }, left);
        }
      }
    };
    // One look at a time; a change during one is looked at right after it.
    function check(): void {
      if (over) return;
      if (looking) {
        again = true;
        return;
      }
      looking = true;
      look()
        .then(next, (error: unknown) => {
          end();
          reject(error instanceof Error ? error : new Error(String(error)));
        })
        .finally(() => {
          looking = false;
          if (again) {
            again = false;
            check();
          }
        });
    }
    // Told in the middle of a change (a supervisor's transition): looked at once it is over.
    const off = watch.onChange((app) => {
      if (app === id) queueMicrotask(check);
    });
    const deadlineTimer = setTimeout(() => {
      seen.pastDeadline = true;
      check();
    }, timeoutMs);
    check();
  });
}

/** What a wait carries from one look to the next. */
interface Seen {
  deadline: number;
  timeoutMs: number;
  /** Set by the deadline's timer, which may fire a moment before the clock reads the deadline. */
  pastDeadline: boolean;
  /**
   * Ready only once it stays so, the same process, for a moment: an app that is ready as
   * soon as it is spawned (no instances) would otherwise pass even when it exits at once.
   */
  steady?: { since: number; pid: number | null } | undefined;
}

/** One look at the app and its enabled instances. */
async function lookAt(watch: ReadinessWatch, id: string, seen: Seen): Promise<Verdict> {
  const status = await watch.status(id);
  const enabled = watch.instancesOf(id).filter((view) => view.enabled);
  const waiting = enabled.filter((view) => view.state !== 'ready');
  if (status.state === 'running' && waiting.length === 0) {
    if (seen.steady?.pid !== status.pid) seen.steady = { since: Date.now(), pid: status.pid };
    return { ready: seen.steady.since };
  }
  seen.steady = undefined;
  const over = seen.pastDeadline || Date.now() >= seen.deadline;
  const wrong = whatIsWrong(status, enabled, over ? seen.timeoutMs : null);
  return wrong === null ? { ready: null } : { wrong };
}

/**
 * Why the app is not on its way to ready, or null while it may still get there; `timedOut`
 * (the timeout) once the deadline has passed.
 */
function whatIsWrong(
  status: AppStatus,
  enabled: readonly Pick<InstanceView, 'id' | 'state' | 'error'>[],
  timedOut: number | null,
): string | null {
  if (status.state === 'fatal') return 'the app stopped for good (fatal) after failed starts';
  const exit = status.lastExit;
  const ended = exit ? ` (last exit ${exit.code ?? exit.signal ?? exit.kind})` : '';
  if (status.state === 'backoff' || status.state === 'stopped') {
    return `the app ended${ended} and is ${status.state}`;
  }
  const failed = enabled.filter((view) => view.state === 'failed');
  if (failed.length > 0) {
    return `instance(s) ${failed.map((v) => `${v.id} failed${v.error ? ` (${v.error})` : ''}`).join(', ')}`;
  }
  if (timedOut === null) return null;
  if (status.state !== 'running') {
    return `the app is ${status.state} after ${timedOut / 1000} s${ended}, ${status.restarts} restart(s)`;
  }
  const waiting = enabled.filter((view) => view.state !== 'ready');
  return `instance(s) ${waiting.map((v) => `${v.id} (${v.state})`).join(', ')} not ready after ${timedOut / 1000} s`;
}
