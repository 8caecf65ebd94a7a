/**
 * Fakes of the OS for unit tests of state machines: a clock that moves when the test says, and
 * processes that start, end and take signals when the test says.
 */
import type {
  Clock,
  Launcher,
  ProcessExit,
  ProcessHandle,
} from '../../src/core/supervisor/index.js';

/** A clock whose time moves only when the test says so. */
export class FakeClock implements Clock {
  time = 1_000_000;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #next = 1;
  now = (): number => this.time;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.push({ at: this.time + ms, fn, id });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
  get pending(): number {
    return this.#timers.length;
  }
}

/** A process that does what the test says. */
export class FakeProcess implements ProcessHandle {
  readonly stdout = null;
  readonly stderr = null;
  readonly signals: string[] = [];
  ignoreTerm = false;
  endsOn: NodeJS.Signals[] = [];
  #spawn: (() => void)[] = [];
  #exit: ((exit: ProcessExit) => void)[] = [];
  #gone = false;
  constructor(readonly pid: number) {}
  onSpawn(listener: () => void): void {
    this.#spawn.push(listener);
  }
  onExit(listener: (exit: ProcessExit) => void): void {
    this.#exit.push(listener);
  }
  signalGroup(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    if (this.#gone) return false;
    if (signal === 'SIGKILL' || (signal === 'SIGTERM' && !this.ignoreTerm)) this.exit(null, signal);
    return true;
  }
  /** Recorded as `leader:SIGNAL`; the process ends on the signals listed in `endsOn`. */
  signal(signal: NodeJS.Signals): boolean {
    this.signals.push(`leader:${signal}`);
    if (this.#gone) return false;
    if (this.endsOn.includes(signal)) this.exit(0, null);
    return true;
  }
  get gone(): boolean {
    return this.#gone;
  }
  spawned(): void {
    for (const listener of this.#spawn) listener();
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.#gone) return;
    this.#gone = true;
    for (const listener of this.#exit) listener({ code, signal });
  }
}

export class FakeLauncher implements Launcher {
  readonly processes: FakeProcess[] = [];
  ignoreTerm = false;
  endsOn: NodeJS.Signals[] = [];
  fail = false;
  launch(): ProcessHandle {
    if (this.fail) throw new Error('spawn run EACCES');
    const process = new FakeProcess(1000 + this.processes.length);
    process.ignoreTerm = this.ignoreTerm;
    process.endsOn = [...this.endsOn];
    this.processes.push(process);
    return process;
  }
  get last(): FakeProcess {
    return this.processes.at(-1)!;
  }
}
