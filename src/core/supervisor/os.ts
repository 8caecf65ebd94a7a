import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { guardIpcChannel, type ChannelViolation } from '../../lib/ipc-guard.js';

/** Time, as the supervisor sees it; tests replace it with a fake. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** What to run for an app. */
export interface ProcessSpec {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  /** Open a Node IPC channel (JSON lines) as fd 3. */
  ipc?: boolean;
  /** Longest message accepted on the channel; a longer one ends the process (default 256 KiB). */
  maxMessageBytes?: number;
}

/**
 * One step of stopping a process: a signal, to its group or its leader only, and the time it is
 * given before the next step. After the last step comes SIGKILL to the group.
 */
export interface StopStep {
  signal: NodeJS.Signals;
  graceMs: number;
  to: 'group' | 'leader';
}

/** How a process ended. `error` is set when it could not be started at all. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A started process, leader of its own process group. */
export interface ProcessHandle {
  readonly pid: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Called once when the process runs. */
  onSpawn(listener: () => void): void;
  /** Called once when it has ended (or failed to start). */
  onExit(listener: (exit: ProcessExit) => void): void;
  /** Signals the whole process group; false when it is gone. */
  signalGroup(signal: NodeJS.Signals): boolean;
  /** Signals the leader only (a server that stops its children itself); false when it is gone. */
  signal(signal: NodeJS.Signals): boolean;
  /** The IPC channel, when the spec asked for one. */
  /** `done` is called once the message (and the handle) left this process, or failed to. */
  send?(message: unknown, handle?: unknown, done?: (error: Error | null) => void): boolean;
  onMessage?(listener: (message: unknown) => void): void;
  /**
   * Called once when the process broke the channel's protocol (a message too long, not JSON,
   * or one of Node's own it may not send): the channel is closed and the process group killed.
   */
  onViolation?(listener: (reason: ChannelViolation, detail: string) => void): void;
}

/** Starts processes; tests replace it with a fake. */
export interface Launcher {
  launch(spec: ProcessSpec): ProcessHandle;
}

/** Signals a process group; false when no process of it is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** The real launcher: each process leads its own process group, output piped. */
export const processLauncher: Launcher = {
  launch(spec) {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: spec.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      serialization: 'json',
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
    });
    const violationListeners: ((reason: ChannelViolation, detail: string) => void)[] = [];
    if (spec.ipc) {
      guardIpcChannel(
        child,
        {
          maxMessageBytes: spec.maxMessageBytes ?? 256 * 1024,
          onViolation: (reason, detail) => {
            for (const listener of violationListeners) listener(reason, detail);
          },
        },
        () => {
          if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
        },
      );
    }
    let exited = false;
    const exitListeners: ((exit: ProcessExit) => void)[] = [];
    const finish = (exit: ProcessExit) => {
      if (exited) return;
      exited = true;
      for (const listener of exitListeners) listener(exit);
    };
    child.once('error', (error) => {
      // Only a failed start ends the process here; a failed kill or send is not an exit.
      if (child.pid === undefined) finish({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      finish({ code, signal });
    });
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      onSpawn: (listener) => child.once('spawn', listener),
      onExit: (listener) => exitListeners.push(listener),
      signalGroup: (signal) => (child.pid === undefined ? false : signalGroup(child.pid, signal)),
      signal: (signal) =>
        child.exitCode === null && child.signalCode === null && child.kill(signal),
      ...(spec.ipc
        ? {
            send: (message: unknown, handle?: unknown, done?: (error: Error | null) => void) =>
              child.connected && child.send(message as never, handle as never, {}, done),
            onMessage: (listener: (message: unknown) => void) => child.on('message', listener),
            onViolation: (listener: (reason: ChannelViolation, detail: string) => void) =>
              violationListeners.push(listener),
          }
        : {}),
    };
  },
};
