/**
 * The embedded server's process under the app supervisor: restarted when it dies (1 s, doubling
 * up to 30 s while it dies again within a minute of being ready), ready once it accepts
 * connections, stopped with PostgreSQL's own shutdown signals. What the supervisor observes is
 * fed to the server's table (machine.ts).
 */
import type { Logger } from '../../lib/logger.js';
import {
  AppSupervisor,
  processLauncher,
  systemClock,
  type Clock,
  type Launcher,
  type LastExit,
  type ProcessHandle,
  type ProcessSpec,
  type RestartPolicy,
  type StopStep,
  type SupervisorNotice,
} from '../supervisor/index.js';
import type { ServerMachine } from './machine.js';

/**
 * Fast shutdown (clients disconnected, a checkpoint), then immediate shutdown (recovery from
 * the WAL at the next start), then SIGKILL to the whole process group. PostgreSQL stops its
 * own children: the signals go to the postmaster only.
 */
const stopPlan: readonly StopStep[] = [
  { signal: 'SIGINT', graceMs: 15_000, to: 'leader' },
  { signal: 'SIGQUIT', graceMs: 5_000, to: 'leader' },
];

/** Options of {@link Postmaster}. */
export interface PostmasterOptions {
  /** The server's command line; asked at every start. */
  spec: () => ProcessSpec;
  /** Connects once: the server's version when it accepts connections; throws when not. */
  probe: () => Promise<string | null>;
  machine: ServerMachine;
  logger: Logger;
  /** How long a start may take to accept connections before it is ended as a failure. */
  startTimeoutMs: number;
  /** Restart delays after the server died: first, cap (ms). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Pause between connection attempts while it starts. */
  probeIntervalMs?: number;
  /** Receives all the server writes. */
  onOutput?: (chunk: Buffer) => void;
  /** More to log when it is ready (its port). */
  logFields?: () => Record<string, unknown>;
  clock?: Clock;
  launcher?: Launcher;
}

/** One run of the server process. */
interface Run {
  handle: ProcessHandle;
  ready: boolean;
  ended: boolean;
  /** Why the run was ended before it was ready, when the manager ended it. */
  failure?: string;
  timer?: unknown;
}

/** The supervised postmaster; see the file's header. */
export class Postmaster {
  readonly #options: PostmasterOptions;
  readonly #clock: Clock;
  readonly #supervisor: AppSupervisor;
  #run: Run | undefined;
  #recentOutput: string[] = [];
  #version: string | null = null;
  /** The first start, until it is ready or has failed. */
  #first: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #destroyed = false;

  constructor(options: PostmasterOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    const policy: RestartPolicy = {
      policy: 'always',
      delaySeconds: (options.restartDelayMs ?? 1000) / 1000,
      maxDelaySeconds: (options.maxRestartDelayMs ?? 30_000) / 1000,
      stableSeconds: 60,
      successCodes: [0],
      maxRetries: null,
    };
    this.#supervisor = new AppSupervisor({
      id: 'database',
      spec: options.spec,
      policy: () => policy,
      stopSignals: () => stopPlan,
      readiness: () => 'message',
      clock: this.#clock,
      launcher: options.launcher ?? processLauncher,
      // No jitter: one server, and its delays are documented.
      random: () => 0.5,
      attach: (handle) => {
        this.#attach(handle);
      },
      notify: (notice) => {
        this.#onNotice(notice);
      },
    });
  }

  get pid(): number | null {
    return this.#supervisor.pid;
  }

  /** Times the server was restarted after it died. */
  get restarts(): number {
    return this.#supervisor.status().restarts;
  }

  get version(): string | null {
    return this.#version;
  }

  /** Starts the server; resolves once it accepts connections. A first run that fails throws. */
  async start(): Promise<void> {
    this.#options.machine.dispatch('start');
    try {
      await new Promise<void>((resolve, reject) => {
        this.#first = { resolve, reject };
        this.#supervisor.start();
      });
    } catch (error) {
      // Not restarted: the manager does not start without its database.
      await this.#supervisor.stop();
      throw error;
    }
  }

  /** Stops the server with its shutdown signals; resolves once no process is left. */
  async stop(): Promise<void> {
    this.#options.machine.dispatch('stop', { process: this.#supervisor.pid !== null });
    await this.#supervisor.stop();
    this.#options.machine.dispatch('gone');
  }

  /** Immediate shutdown without waiting (the manager exits at once). */
  destroy(): void {
    this.#destroyed = true;
    if (this.#run) this.#clock.clearTimeout(this.#run.timer);
    this.#supervisor.destroy({ signal: 'SIGQUIT', to: 'leader' });
  }

  #attach(handle: ProcessHandle): void {
    const run: Run = { handle, ready: false, ended: false };
    this.#run = run;
    this.#recentOutput = [];
    const capture = (chunk: Buffer) => {
      this.#options.onOutput?.(chunk);
      this.#recentOutput.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.#recentOutput.length > 20)
        this.#recentOutput.splice(0, this.#recentOutput.length - 20);
    };
    handle.stdout?.on('data', capture);
    handle.stderr?.on('data', capture);
    void this.#awaitReady(run);
  }

  /** Tries to connect until it works, the run ends, or the start timeout is over. */
  async #awaitReady(run: Run): Promise<void> {
    const { probe, startTimeoutMs, probeIntervalMs } = this.#options;
    const deadline = this.#clock.now() + startTimeoutMs;
    let lastError = '';
    while (this.#isCurrent(run)) {
      try {
        const version = await probe();
        if (!this.#isCurrent(run)) return;
        this.#version = version;
        this.#supervisor.ready();
        return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (this.#clock.now() > deadline) {
        this.#abandon(
          run,
          `the database did not accept connections within ${startTimeoutMs} ms: ${lastError}`,
        );
        return;
      }
      await new Promise<void>((resolve) => {
        this.#clock.setTimeout(resolve, probeIntervalMs ?? 100);
      });
    }
  }

  /** Whether `run` is the live run (a probe of an ended one must not make a later one ready). */
  #isCurrent(run: Run): boolean {
    return this.#run === run && !run.ended;
  }

  /**
   * Ends a run that does not get ready, with the stop plan's signals in turn; its exit is a
   * failed start, restarted like a death (or reported by the first start).
   */
  #abandon(run: Run, failure: string): void {
    run.failure = failure;
    const steps = [...stopPlan];
    const next = () => {
      if (run.ended) return;
      const step = steps.shift();
      if (!step) {
        run.handle.signalGroup('SIGKILL');
        return;
      }
      run.handle.signal(step.signal);
      run.timer = this.#clock.setTimeout(next, step.graceMs);
    };
    next();
  }

  #onNotice(notice: SupervisorNotice): void {
    if (this.#destroyed) return;
    if (notice.type === 'exited') this.#onExit(notice.exit, notice.error);
    if (notice.type !== 'state') return;
    if (notice.state === 'running') this.#onReady();
    if (notice.state === 'backoff') this.#onFailed(notice.previous);
  }

  #onExit(exit: LastExit, error: string | undefined): void {
    const run = this.#run;
    if (!run) return;
    run.ended = true;
    this.#clock.clearTimeout(run.timer);
    if (run.failure) return;
    const output = this.#recentOutput;
    run.failure = run.ready
      ? `postgres exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}): ${output.slice(-2).join(' | ')}`
      : `the database server exited during start: ${error ?? (output.slice(-3).join(' | ') || 'no output')}`;
  }

  #onReady(): void {
    if (this.#run) this.#run.ready = true;
    this.#options.machine.dispatch('ready');
    this.#options.logger.info(
      { pid: this.pid, ...this.#options.logFields?.(), version: this.#version },
      'database ready',
    );
    const first = this.#first;
    this.#first = undefined;
    first?.resolve();
  }

  /** The run ended without a stop: it is restarted after the delay. */
  #onFailed(previous: string): void {
    const reason = this.#run?.failure ?? 'the database server ended';
    const first = this.#first;
    if (first) {
      this.#first = undefined;
      first.reject(new Error(reason));
      return;
    }
    const { logger, machine } = this.#options;
    if (previous === 'running') {
      const exit = this.#supervisor.status().lastExit;
      logger.error(
        { code: exit?.code, signal: exit?.signal },
        'the database server died; restarting it',
      );
      machine.dispatch('down', { reason });
    } else {
      logger.error({ err: new Error(reason) }, 'restarting the database server failed');
    }
  }
}
