import {
  classifyExit,
  exitKind,
  restartDelayMs,
  transition,
  type AppState,
  type ExitKind,
  type RestartPolicy,
  type SupervisorAction,
  type SupervisorEvent,
} from './machine.js';
import type { Clock, Launcher, ProcessExit, ProcessHandle, ProcessSpec, StopStep } from './os.js';

/** How the process ended last time. */
export interface LastExit {
  kind: ExitKind;
  code: number | null;
  signal: string | null;
  at: string;
}

/** The supervisor's part of an app's status (specs/app-container.md, `status`). */
export interface SupervisorStatus {
  state: AppState;
  pid: number | null;
  startCount: number;
  since: string;
  lastExit: LastExit | null;
  restarts: number;
  nextRestartAt: string | null;
}

/** What the supervisor tells its owner. */
export type SupervisorNotice =
  | { type: 'state'; state: AppState; previous: AppState }
  | { type: 'spawned'; pid: number }
  | { type: 'exited'; exit: LastExit; error?: string }
  | { type: 'crash-loop'; raised: boolean; failures: number }
  | { type: 'fatal'; raised: boolean; failures: number };

/** Options of {@link AppSupervisor}. */
export interface AppSupervisorOptions {
  id: string;
  /** What to run; asked at every spawn, so a re-install or new credentials apply. */
  spec: () => ProcessSpec;
  policy: () => RestartPolicy;
  /** Time between SIGTERM and SIGKILL on stop (when no {@link stopSignals} are given). */
  graceMs?: () => number;
  /**
   * How the process is asked to end, step by step, before SIGKILL to its group; by default
   * SIGTERM to the group and {@link graceMs}. A server that stops its own children (PostgreSQL)
   * takes its signals to the leader.
   */
  stopSignals?: () => readonly StopStep[];
  /**
   * `spawn`: running once the process runs; `message`: once {@link ready} is called (by the
   * service's ready message, or by the owner once the process answers, as a database server
   * accepting connections). Asked at every spawn, so a re-installed app may change it.
   */
  readiness?: () => 'spawn' | 'message';
  clock: Clock;
  launcher: Launcher;
  random?: () => number;
  notify?: (notice: SupervisorNotice) => void;
  /** Receives the process while it runs (its output, its IPC channel). */
  attach?: (process: ProcessHandle) => void;
  /** Failures within this window that raise the crash-loop alarm. */
  crashLoop?: { failures: number; windowMs: number };
}

/**
 * Supervises one process (an app's service, or the embedded database server) with the table of
 * machine.ts. Desired state (what the admin
 * asked: started or stopped) is kept apart from the observed state of the process.
 */
export class AppSupervisor {
  readonly id: string;
  readonly #options: AppSupervisorOptions;
  #state: AppState = 'stopped';
  #since: number;
  #desired: 'running' | 'stopped' = 'stopped';
  #process: ProcessHandle | undefined;
  #pid: number | null = null;
  #startCount = 0;
  #restarts = 0;
  #failures = 0;
  #failureTimes: number[] = [];
  #crashLoop = false;
  #fatal = false;
  #lastExit: LastExit | null = null;
  #killed = false;
  /** The step of the stop plan the next stop signal takes. */
  #stopStep = 0;
  #nextRestartAt: number | null = null;
  #retryTimer: unknown;
  #graceTimer: unknown;
  #stableTimer: unknown;
  #waiters: (() => void)[] = [];

  constructor(options: AppSupervisorOptions) {
    this.id = options.id;
    this.#options = options;
    this.#since = options.clock.now();
  }

  get state(): AppState {
    return this.#state;
  }

  /** What the admin asked for last. */
  get desired(): 'running' | 'stopped' {
    return this.#desired;
  }

  /** Pid (= process group id) of the running process, if any. */
  get pid(): number | null {
    return this.#pid;
  }

  status(): SupervisorStatus {
    return {
      state: this.#state,
      pid: this.#pid,
      startCount: this.#startCount,
      since: new Date(this.#since).toISOString(),
      lastExit: this.#lastExit,
      restarts: this.#restarts,
      nextRestartAt:
        this.#nextRestartAt === null ? null : new Date(this.#nextRestartAt).toISOString(),
    };
  }

  /** Starts the app. Returns false when that changes nothing (it runs or is starting). */
  start(): boolean {
    this.#desired = 'running';
    return this.#dispatch('start');
  }

  /**
   * Stops the app: SIGTERM to its process group, SIGKILL after the grace time; a pending
   * restart is cancelled. Resolves once no process is left. `changed` is false when it was
   * not running.
   */
  async stop(): Promise<{ changed: boolean }> {
    this.#desired = 'stopped';
    const changed = this.#dispatch('stop');
    if (this.#state === 'stopping') {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return { changed };
  }

  /**
   * Takes over the alarms a previous manager's supervisor of this app raised (they are in the
   * store; the knowledge that raised them is not): a `crash-loop` is cleared again by a
   * stable run, an `app-fatal` by a start, as if this supervisor had raised them.
   */
  adopt(raised: { crashLoop?: boolean; fatal?: boolean }): void {
    if (raised.crashLoop) this.#crashLoop = true;
    if (raised.fatal) this.#fatal = true;
  }

  /** The service said it is ready (readiness `message`). */
  ready(): void {
    this.#dispatch('ready');
  }

  #dispatch(event: SupervisorEvent): boolean {
    const step = transition(this.#state, event);
    if (!step) return false;
    const previous = this.#state;
    if (step.next !== previous) {
      this.#state = step.next;
      this.#since = this.#options.clock.now();
    }
    for (const action of step.actions) this.#perform(action);
    if (step.next !== previous) {
      this.#options.notify?.({ type: 'state', state: step.next, previous });
      if (step.next !== 'stopping' && previous === 'stopping') this.#release();
    }
    return true;
  }

  #release(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  #perform(action: SupervisorAction): void {
    const { clock } = this.#options;
    switch (action) {
      case 'spawn':
        this.#spawn();
        break;
      case 'signalStop':
        this.#killed = false;
        this.#sendStopSignal();
        break;
      case 'escalate':
        this.#sendStopSignal();
        break;
      case 'armGrace': {
        // The grace of the signal about to be sent; none after SIGKILL.
        const step = this.#stopPlan()[this.#stopStep];
        if (!step) break;
        this.#graceTimer = clock.setTimeout(() => {
          this.#graceTimer = undefined;
          this.#dispatch('graceOver');
        }, step.graceMs);
        break;
      }
      case 'cancelGrace':
        clock.clearTimeout(this.#graceTimer);
        this.#graceTimer = undefined;
        break;
      case 'scheduleRetry': {
        const delay = restartDelayMs(
          this.#options.policy(),
          this.#failures,
          this.#options.random ?? Math.random,
        );
        this.#nextRestartAt = clock.now() + delay;
        this.#retryTimer = clock.setTimeout(() => {
          this.#retryTimer = undefined;
          this.#nextRestartAt = null;
          this.#restarts++;
          this.#dispatch('retry');
        }, delay);
        break;
      }
      case 'cancelRetry':
        clock.clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        this.#nextRestartAt = null;
        break;
      case 'armStable':
        clock.clearTimeout(this.#stableTimer);
        this.#stableTimer = clock.setTimeout(() => {
          this.#stableTimer = undefined;
          this.#onStable();
        }, this.#options.policy().stableSeconds * 1000);
        break;
      case 'cancelStable':
        clock.clearTimeout(this.#stableTimer);
        this.#stableTimer = undefined;
        break;
      case 'killStrays':
        // The leader is gone; children it left in its group must not outlive it.
        this.#process?.signalGroup('SIGKILL');
        this.#process = undefined;
        this.#pid = null;
        break;
      case 'raiseFatal':
        this.#fatal = true;
        this.#options.notify?.({ type: 'fatal', raised: true, failures: this.#failures });
        break;
      case 'clearFatal':
        if (this.#fatal) {
          this.#fatal = false;
          this.#options.notify?.({ type: 'fatal', raised: false, failures: this.#failures });
        }
        break;
      case 'resetFailures':
        this.#failures = 0;
        break;
    }
  }

  #stopPlan(): readonly StopStep[] {
    const { stopSignals, graceMs } = this.#options;
    return stopSignals?.() ?? [{ signal: 'SIGTERM', graceMs: graceMs?.() ?? 10_000, to: 'group' }];
  }

  /** Sends the stop plan's next signal, or SIGKILL to the group once the plan is used up. */
  #sendStopSignal(): void {
    const step = this.#stopPlan()[this.#stopStep++];
    if (!step) {
      this.#killed = true;
      this.#process?.signalGroup('SIGKILL');
    } else if (step.to === 'leader') {
      this.#process?.signal(step.signal);
    } else {
      this.#process?.signalGroup(step.signal);
    }
  }

  /** A run lasted stableSeconds: the next failure starts again from the first delay. */
  #onStable(): void {
    this.#failures = 0;
    this.#failureTimes = [];
    if (this.#crashLoop) {
      this.#crashLoop = false;
      this.#options.notify?.({ type: 'crash-loop', raised: false, failures: 0 });
    }
  }

  #spawn(): void {
    const { launcher } = this.#options;
    this.#startCount++;
    this.#stopStep = 0;
    let handle: ProcessHandle;
    try {
      handle = launcher.launch(this.#options.spec());
    } catch (error) {
      // Treated like a process that died at once: restarted by the policy, counted as a failure.
      queueMicrotask(() => {
        this.#onExit(undefined, { code: null, signal: null, error: error as Error });
      });
      return;
    }
    this.#process = handle;
    this.#pid = handle.pid ?? null;
    this.#options.attach?.(handle);
    handle.onSpawn(() => {
      if (this.#process !== handle) return;
      this.#pid = handle.pid ?? null;
      if (this.#pid !== null) this.#options.notify?.({ type: 'spawned', pid: this.#pid });
      this.#dispatch('spawned');
      if ((this.#options.readiness?.() ?? 'spawn') === 'spawn') this.#dispatch('ready');
    });
    handle.onExit((exit) => {
      this.#onExit(handle, exit);
    });
  }

  #onExit(handle: ProcessHandle | undefined, exit: ProcessExit): void {
    if (handle !== undefined && this.#process !== handle) return;
    const now = this.#options.clock.now();
    const stopping = this.#state === 'stopping';
    const kind: ExitKind = stopping
      ? this.#killed
        ? 'killed'
        : 'stopped'
      : exit.error
        ? 'error'
        : exitKind(exit.code, exit.signal);
    this.#lastExit = {
      kind,
      code: exit.code,
      signal: exit.signal,
      at: new Date(now).toISOString(),
    };
    this.#options.notify?.({
      type: 'exited',
      exit: this.#lastExit,
      ...(exit.error ? { error: exit.error.message } : {}),
    });
    if (stopping) {
      this.#dispatch('exitDone');
      return;
    }
    const policy = this.#options.policy();
    const success =
      !exit.error &&
      exit.signal === null &&
      exit.code !== null &&
      policy.successCodes.includes(exit.code);
    if (!success) this.#countFailure(now);
    const event = classifyExit(
      policy,
      exit.error ? null : exit.code,
      exit.signal,
      success ? this.#failures + 1 : this.#failures,
    );
    if (success && event === 'exitRestart') this.#failures++;
    this.#dispatch(event);
  }

  #countFailure(now: number): void {
    this.#failures++;
    const { failures, windowMs } = this.#options.crashLoop ?? { failures: 5, windowMs: 600_000 };
    this.#failureTimes = this.#failureTimes.filter((t) => t > now - windowMs);
    this.#failureTimes.push(now);
    if (!this.#crashLoop && this.#failureTimes.length >= failures) {
      this.#crashLoop = true;
      this.#options.notify?.({
        type: 'crash-loop',
        raised: true,
        failures: this.#failureTimes.length,
      });
    }
  }

  /**
   * Stops timers and ends the process at once (manager shutting down hard): SIGKILL to its
   * group unless `last` says otherwise (PostgreSQL takes SIGQUIT, immediate shutdown, and
   * recovers from its WAL at the next start).
   */
  destroy(
    last: { signal: NodeJS.Signals; to: 'group' | 'leader' } = {
      signal: 'SIGKILL',
      to: 'group',
    },
  ): void {
    const { clock } = this.#options;
    clock.clearTimeout(this.#retryTimer);
    clock.clearTimeout(this.#graceTimer);
    clock.clearTimeout(this.#stableTimer);
    if (last.to === 'leader') this.#process?.signal(last.signal);
    else this.#process?.signalGroup(last.signal);
  }
}
