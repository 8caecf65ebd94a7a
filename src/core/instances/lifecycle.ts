/**
 * An instance's runtime lifecycle, as a table: observed state × event → next state + actions,
 * as supervisor/machine.ts is for apps. The desired state (the row's `enabled`) is kept apart
 * from the observed one and guards the transitions that need it. {@link InstanceLifecycle}
 * holds one instance's states, feeds the table and carries out its actions; nothing else
 * assigns an instance's state.
 */
import type { Clock } from '../supervisor/index.js';
import type { InstanceState } from './model.js';

/** What the manager last saw of an instance in its app's service. */
export type ObservedState = 'stopped' | 'starting' | 'ready' | 'failed';

/** What the admin asked for (the row's `enabled`). */
export type DesiredState = 'enabled' | 'disabled';

/**
 * What can happen to an instance: `host` asks its service to host it (instance.start);
 * `ready`, `failed` and `stopped` are the service's answers (`stopped` also ends a stop the
 * manager waited out); `deadline` is the start's answer not coming in time; `folderFailed` its
 * data folder that cannot be prepared; `stop` asks the service to stop hosting it (a disable,
 * a delete, a restore); `gone` is the service process ending.
 */
export type InstanceEvent =
  'host' | 'ready' | 'failed' | 'deadline' | 'folderFailed' | 'stop' | 'stopped' | 'gone';

/** What a transition does, in the order listed. */
export type InstanceAction =
  'sendStart' | 'armDeadline' | 'cancelDeadline' | 'sendStop' | 'releaseStop' | 'recordFailure';

/** Conditions a transition needs besides the state: it is not taken when one does not hold. */
export interface InstanceGuard {
  /** The desired state is `enabled`. */
  enabled?: true;
  /** The app's service runs and talks to the manager. */
  hosted?: true;
}

export interface InstanceTransition {
  next: ObservedState;
  actions: readonly InstanceAction[];
  when?: InstanceGuard;
}

const host: InstanceTransition = {
  next: 'starting',
  actions: ['sendStart', 'armDeadline'],
  when: { enabled: true, hosted: true },
};
const folderFailed: InstanceTransition = { next: 'failed', actions: [], when: { enabled: true } };
const down: InstanceTransition = { next: 'stopped', actions: ['releaseStop'] };

/** A stop keeps the state until the service answers (`stopped`) or the wait is over. */
function stop(state: ObservedState): InstanceTransition {
  return { next: state, actions: ['sendStop'], when: { hosted: true } };
}

/**
 * The table. A pair that is not listed (or whose guard does not hold) has no effect: a service
 * that says `ready` for an instance it was not asked to start, or repeats `failed`, changes
 * nothing and records nothing. Every way out of `starting` cancels the deadline: only the
 * start that armed it may fail for want of an answer. A `host` in any state sends the start
 * again (a service that became ready hosts all its enabled instances).
 */
export const instanceTransitions: Readonly<
  Record<ObservedState, Partial<Record<InstanceEvent, InstanceTransition>>>
> = {
  stopped: {
    host,
    folderFailed,
    stopped: down,
    gone: down,
  },
  starting: {
    host,
    ready: { next: 'ready', actions: ['cancelDeadline'] },
    failed: { next: 'failed', actions: ['cancelDeadline', 'recordFailure'] },
    deadline: { next: 'failed', actions: ['cancelDeadline', 'recordFailure'] },
    folderFailed: { ...folderFailed, actions: ['cancelDeadline'] },
    stop: stop('starting'),
    stopped: { next: 'stopped', actions: ['cancelDeadline', 'releaseStop'] },
    gone: { next: 'stopped', actions: ['cancelDeadline', 'releaseStop'] },
  },
  ready: {
    host,
    failed: { next: 'failed', actions: ['recordFailure'] },
    folderFailed,
    stop: stop('ready'),
    stopped: down,
    gone: down,
  },
  failed: {
    host,
    folderFailed,
    stop: stop('failed'),
    stopped: down,
    gone: down,
  },
};

/** What the guards are checked against. */
export interface GuardFacts {
  desired: DesiredState;
  hosted: boolean;
}

/** Looks a transition up; undefined when the event has no effect in that state and context. */
export function instanceTransition(
  state: ObservedState,
  event: InstanceEvent,
  facts: GuardFacts,
): InstanceTransition | undefined {
  const step = instanceTransitions[state][event];
  if (!step) return undefined;
  if (step.when?.enabled && facts.desired !== 'enabled') return undefined;
  if (step.when?.hosted && !facts.hosted) return undefined;
  return step;
}

/** The state an instance shows: a disabled one that no service hosts is `disabled`. */
export function shownState(observed: ObservedState, desired: DesiredState): InstanceState {
  return observed === 'stopped' && desired === 'disabled' ? 'disabled' : observed;
}

/** What the actions reach outside the lifecycle: the service and the event log. */
export interface LifecycleEffects {
  /** Whether the app's service runs (the `hosted` guard). */
  hosted(): boolean;
  /** Sends instance.start. */
  sendStart(): void;
  /** Sends instance.stop. */
  sendStop(): void;
  /** Records the failure in the event log; `error` is what the instance shows. */
  recordFailure(event: InstanceEvent, error: string): void;
  /** Told after every transition and change of the desired state (waiters look again). */
  changed?(): void;
}

/** Options of {@link InstanceLifecycle}. */
export interface LifecycleOptions {
  /** The instance's id, for the texts of its failures. */
  id: string;
  enabled: boolean;
  clock: Clock;
  effects: LifecycleEffects;
  /** Time the service has to answer instance.start. */
  startTimeoutMs: number;
  /** Longest wait for the answer to instance.stop. */
  stopWaitMs?: number;
}

/** One instance's runtime state, changed only through {@link instanceTransitions}. */
export class InstanceLifecycle {
  readonly #options: LifecycleOptions;
  #observed: ObservedState = 'stopped';
  #desired: DesiredState;
  #error: string | null = null;
  #since: number;
  #deadline: unknown;
  #stopWaiters: (() => void)[] = [];

  constructor(options: LifecycleOptions) {
    this.#options = options;
    this.#desired = options.enabled ? 'enabled' : 'disabled';
    this.#since = options.clock.now();
  }

  get observed(): ObservedState {
    return this.#observed;
  }

  get desired(): DesiredState {
    return this.#desired;
  }

  /** The state as list and show give it. */
  get state(): InstanceState {
    return shownState(this.#observed, this.#desired);
  }

  /** Why it failed, while it is `failed`. */
  get error(): string | null {
    return this.#error;
  }

  /** When the shown state (or its error) last changed. */
  get since(): Date {
    return new Date(this.#since);
  }

  /** Records what the admin asked for; the caller then hosts it (`host`) or stops it. */
  setDesired(enabled: boolean): void {
    const before = this.state;
    this.#desired = enabled ? 'enabled' : 'disabled';
    if (this.state !== before) this.#since = this.#options.clock.now();
    this.#options.effects.changed?.();
  }

  /**
   * Feeds an event to the table; `error` is the failure's text for `failed`, `deadline` and
   * `folderFailed`. False when it had no effect.
   */
  dispatch(event: InstanceEvent, error?: string): boolean {
    const step = instanceTransition(this.#observed, event, {
      desired: this.#desired,
      hosted: this.#options.effects.hosted(),
    });
    if (!step) return false;
    const before = { state: this.state, error: this.#error };
    this.#observed = step.next;
    this.#error = step.next === 'failed' ? (error ?? this.#error ?? 'failed') : null;
    if (this.state !== before.state || this.#error !== before.error) {
      this.#since = this.#options.clock.now();
    }
    for (const action of step.actions) this.#perform(action, event);
    this.#options.effects.changed?.();
    return true;
  }

  /**
   * Asks the service to stop hosting the instance and waits for its answer, at most
   * `stopWaitMs` (10 s); then the instance is `stopped` whatever the service did.
   */
  async stop(): Promise<void> {
    const { clock } = this.#options;
    let resolve = (): void => undefined;
    const answered = new Promise<void>((done) => (resolve = done));
    this.#stopWaiters.push(resolve);
    if (this.dispatch('stop')) {
      const timer = clock.setTimeout(resolve, this.#options.stopWaitMs ?? 10_000);
      await answered;
      clock.clearTimeout(timer);
    }
    this.#stopWaiters = this.#stopWaiters.filter((waiter) => waiter !== resolve);
    this.dispatch('stopped');
  }

  /** Cancels the deadline (the manager closes). */
  dispose(): void {
    this.#options.clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }

  #perform(action: InstanceAction, event: InstanceEvent): void {
    const { clock, effects } = this.#options;
    switch (action) {
      case 'sendStart':
        effects.sendStart();
        break;
      case 'armDeadline':
        clock.clearTimeout(this.#deadline);
        this.#deadline = clock.setTimeout(() => {
          this.#deadline = undefined;
          const { id, startTimeoutMs } = this.#options;
          this.dispatch(
            'deadline',
            `instance ${id} did not answer within ${startTimeoutMs / 1000} s`,
          );
        }, this.#options.startTimeoutMs);
        break;
      case 'cancelDeadline':
        this.dispose();
        break;
      case 'sendStop':
        effects.sendStop();
        break;
      case 'releaseStop': {
        const waiters = this.#stopWaiters;
        this.#stopWaiters = [];
        for (const resolve of waiters) resolve();
        break;
      }
      case 'recordFailure':
        effects.recordFailure(event, this.#error ?? 'failed');
        break;
    }
  }
}
