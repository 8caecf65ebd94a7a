/**
 * The supervision state machine, as a table: state × event → next state + actions.
 * It is pure: {@link AppSupervisor} feeds it events and carries out the actions.
 */

/** Observed state of an app's process. */
export type AppState = 'stopped' | 'starting' | 'running' | 'stopping' | 'backoff' | 'fatal';

/**
 * What can happen to a supervised app. Exits are classified before they reach the table
 * ({@link classifyExit}): `exitDone` ends the run, `exitRestart` schedules a restart,
 * `exitGiveUp` means the retry limit is reached.
 */
export type SupervisorEvent =
  | 'start'
  | 'stop'
  | 'spawned'
  | 'ready'
  | 'exitDone'
  | 'exitRestart'
  | 'exitGiveUp'
  | 'retry'
  | 'graceOver';

/**
 * What the supervisor does on a transition, in the order listed. A stop sends the first signal
 * of the process's stop plan (`signalStop`, SIGTERM to the group for an app) and arms its grace
 * time; each grace that runs out sends the next signal (`escalate`), SIGKILL to the group last.
 */
export type SupervisorAction =
  | 'spawn'
  | 'signalStop'
  | 'escalate'
  | 'armGrace'
  | 'cancelGrace'
  | 'scheduleRetry'
  | 'cancelRetry'
  | 'armStable'
  | 'cancelStable'
  | 'killStrays'
  | 'raiseFatal'
  | 'clearFatal'
  | 'resetFailures';

export interface Transition {
  next: AppState;
  actions: readonly SupervisorAction[];
}

const exitWhileUp = {
  exitDone: { next: 'stopped', actions: ['cancelStable', 'killStrays'] },
  exitRestart: { next: 'backoff', actions: ['cancelStable', 'killStrays', 'scheduleRetry'] },
  exitGiveUp: { next: 'fatal', actions: ['cancelStable', 'killStrays', 'raiseFatal'] },
} as const satisfies Partial<Record<SupervisorEvent, Transition>>;

const exitWhileStopping: Transition = { next: 'stopped', actions: ['cancelGrace', 'killStrays'] };

/**
 * The table. A pair that is not listed has no effect (a start on a running app, a stop on a
 * stopped one): the caller reports "nothing to do". Every way out of `starting` and `running`
 * to another state cancels the stable timer: only the run that armed it may be called stable.
 * A stop arms the grace timer before it signals, so that a process that ends at once finds it
 * to cancel.
 */
export const transitions: Readonly<Record<AppState, Partial<Record<SupervisorEvent, Transition>>>> =
  {
    stopped: {
      // clearFatal: a gave-up alarm taken over from the previous manager ends with a start.
      start: { next: 'starting', actions: ['clearFatal', 'resetFailures', 'spawn'] },
    },
    starting: {
      spawned: { next: 'starting', actions: [] },
      ready: { next: 'running', actions: ['armStable'] },
      stop: { next: 'stopping', actions: ['cancelStable', 'armGrace', 'signalStop'] },
      ...exitWhileUp,
    },
    running: {
      // A stopped run never proves stable: its timer would clear the next run's crash-loop.
      stop: { next: 'stopping', actions: ['cancelStable', 'armGrace', 'signalStop'] },
      ...exitWhileUp,
    },
    stopping: {
      // The next signal's grace is armed before it is sent, as on the first one.
      graceOver: { next: 'stopping', actions: ['armGrace', 'escalate'] },
      exitDone: exitWhileStopping,
      exitRestart: exitWhileStopping,
      exitGiveUp: exitWhileStopping,
    },
    backoff: {
      retry: { next: 'starting', actions: ['spawn'] },
      start: { next: 'starting', actions: ['cancelRetry', 'resetFailures', 'spawn'] },
      stop: { next: 'stopped', actions: ['cancelRetry'] },
    },
    fatal: {
      start: { next: 'starting', actions: ['clearFatal', 'resetFailures', 'spawn'] },
      stop: { next: 'stopped', actions: ['clearFatal'] },
    },
  };

/** Looks a transition up; undefined when the event has no effect in that state. */
export function transition(state: AppState, event: SupervisorEvent): Transition | undefined {
  return transitions[state][event];
}

/** When an app is restarted after its process ended (app.json `restart`). */
export interface RestartPolicy {
  policy: 'on-failure' | 'always' | 'never';
  delaySeconds: number;
  maxDelaySeconds: number;
  stableSeconds: number;
  successCodes: readonly number[];
  /** Restarts allowed after consecutive failures before giving up; null: unlimited. */
  maxRetries: number | null;
}

export const defaultRestartPolicy: RestartPolicy = {
  policy: 'on-failure',
  delaySeconds: 1,
  maxDelaySeconds: 60,
  stableSeconds: 30,
  successCodes: [0],
  maxRetries: null,
};

/** How a process ended, as status shows it. */
export type ExitKind = 'regular' | 'error' | 'signal' | 'stopped' | 'killed';

/**
 * Names an exit the app was not asked to make: `regular` for exit 0, `error` for another
 * code, `signal` for a signal (or a process that could not be started: `error`).
 */
export function exitKind(code: number | null, signal: string | null): ExitKind {
  if (signal !== null) return 'signal';
  return code === 0 ? 'regular' : 'error';
}

/**
 * Decides what an exit that nobody asked for means: done (no restart), restart, or give up.
 * `failures` counts the consecutive failed runs including this one.
 */
export function classifyExit(
  policy: RestartPolicy,
  code: number | null,
  signal: string | null,
  failures: number,
): 'exitDone' | 'exitRestart' | 'exitGiveUp' {
  const success = signal === null && code !== null && policy.successCodes.includes(code);
  const restart = policy.policy === 'always' || (policy.policy === 'on-failure' && !success);
  if (!restart) return 'exitDone';
  if (policy.maxRetries !== null && failures > policy.maxRetries) return 'exitGiveUp';
  return 'exitRestart';
}

/**
 * Delay before restart number `failures` (1 for the first): the base delay doubled for each
 * further consecutive failure, capped, with ±10 % jitter so that many apps crashing together
 * do not restart in lockstep. `random` returns a number in [0, 1).
 */
export function restartDelayMs(
  policy: RestartPolicy,
  failures: number,
  random: () => number,
): number {
  const base = policy.delaySeconds * 2 ** Math.max(0, failures - 1);
  const capped = Math.min(base, policy.maxDelaySeconds);
  const jitter = 1 + (random() * 2 - 1) * 0.1;
  return Math.max(0, Math.round(capped * 1000 * jitter));
}
