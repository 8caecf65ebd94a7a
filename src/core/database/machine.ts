/**
 * The database server's lifecycle, as a table: state × event → next state, with guards. It
 * serves both servers: the embedded one (whose process the app supervisor runs) and an external
 * one (which is only probed). {@link ServerMachine} keeps the desired state (what the manager
 * asked: running or stopped) apart from the observed one, and tells listeners of changes.
 */
import type { DatabaseState, DatabaseStateChange } from './types.js';

/**
 * What can happen to the database server:
 * - `start`: the manager starts it (desired: running);
 * - `ready`: it accepts connections;
 * - `down`: it died, or does not answer;
 * - `stop`: the manager stops it (desired: stopped);
 * - `gone`: no process of it is left after a stop.
 */
export type DatabaseEvent = 'start' | 'ready' | 'down' | 'stop' | 'gone';

/** What the guards see. */
export interface DatabaseContext {
  desired: 'running' | 'stopped';
  /** Whether a server process of the manager's is left to end (never for an external server). */
  process: boolean;
}

/** One guarded way out of a state: taken when `when` holds (or is absent). */
export interface DatabaseTransition {
  next: DatabaseState;
  when?: (context: DatabaseContext) => boolean;
}

const wanted = (context: DatabaseContext) => context.desired === 'running';
/** A stop waits for the process to end; with none (external, or between restarts) it is over. */
const stop: readonly DatabaseTransition[] = [
  { next: 'stopping', when: (context) => context.process },
  { next: 'stopped' },
];

/**
 * The table; the first transition whose guard holds is taken. A pair that is not listed has no
 * effect: a `ready` of a probe that was under way when the server was stopped, a `down` while
 * it is already restarting, or one of a first start (which `start()` reports by throwing).
 */
export const databaseTransitions: Readonly<
  Record<DatabaseState, Partial<Record<DatabaseEvent, readonly DatabaseTransition[]>>>
> = {
  stopped: {
    start: [{ next: 'starting' }],
  },
  starting: {
    ready: [{ next: 'running', when: wanted }],
    stop,
  },
  running: {
    down: [{ next: 'restarting', when: wanted }],
    stop,
  },
  restarting: {
    ready: [{ next: 'running', when: wanted }],
    stop,
  },
  stopping: {
    gone: [{ next: 'stopped' }],
  },
};

/** Looks the next state up; undefined when the event has no effect. */
export function databaseTransition(
  state: DatabaseState,
  event: DatabaseEvent,
  context: DatabaseContext,
): DatabaseState | undefined {
  return databaseTransitions[state][event]?.find((step) => step.when?.(context) ?? true)?.next;
}

/** The state of one database server: desired and observed, with listeners of changes. */
export class ServerMachine {
  readonly #listeners = new Set<(change: DatabaseStateChange) => void>();
  readonly #now: () => number;
  #state: DatabaseState = 'stopped';
  #desired: 'running' | 'stopped' = 'stopped';
  #since: number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#since = now();
  }

  get state(): DatabaseState {
    return this.#state;
  }

  get desired(): 'running' | 'stopped' {
    return this.#desired;
  }

  /** When the current state began, ISO 8601. */
  get since(): string {
    return new Date(this.#since).toISOString();
  }

  /**
   * Feeds an event; `process` tells a stop whether a process is left to end, `reason` says why
   * the server is down. Returns whether the state changed.
   */
  dispatch(event: DatabaseEvent, details: { process?: boolean; reason?: string } = {}): boolean {
    if (event === 'start') this.#desired = 'running';
    if (event === 'stop') this.#desired = 'stopped';
    const previous = this.#state;
    const next = databaseTransition(previous, event, {
      desired: this.#desired,
      process: details.process ?? false,
    });
    if (next === undefined || next === previous) return false;
    this.#state = next;
    this.#since = this.#now();
    const change: DatabaseStateChange = {
      state: next,
      previous,
      ...(details.reason ? { reason: details.reason } : {}),
    };
    for (const listener of this.#listeners) listener(change);
    return true;
  }

  /** Calls `listener` on every change; returns a function that removes it. */
  onChange(listener: (change: DatabaseStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
