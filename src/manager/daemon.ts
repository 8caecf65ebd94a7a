import { loadConfig, type Config } from '../core/config/index.js';
import { AppvisorError, type ErrorCode } from '../core/errors/index.js';
import type { FrontAddress } from '../core/front/index.js';
import type { ListenAddress } from '../core/monitor/index.js';
import { keepAlive, type ProcessEvents } from '../lib/last-resort.js';
import type { Logger } from '../lib/logger.js';
import { readyBanner } from './banner.js';
import type { Console } from './parts.js';
import { untilStopped, type SignalSource } from './signals.js';

/** What the daemon needs from the process; gathered by the entry point. */
export interface DaemonInput {
  /** Configuration values from flags, by dotted key. */
  flags: Record<string, string | undefined>;
  configFile?: string;
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: Console;
  stderr: Console;
}

/** A running manager. */
export interface Manager {
  config: Config;
  logger: Logger;
  addresses(): FrontAddress[];
  /** Where the admin UI and API listen. */
  adminAddress(): FrontAddress | undefined;
  /** Where the unauthenticated metrics listener is, when one is configured. */
  metricsAddress(): ListenAddress | undefined;
  /** Shuts down gracefully, in reverse start order. Idempotent. */
  close(): Promise<void>;
  /** Kills what is left at once. */
  destroy(): void;
  /** Shown once on the first start when no admin password was configured. */
  oneTimePassword: string | null;
}

/** What a start gets besides the configuration. */
export interface StartInput extends Pick<DaemonInput, 'stderr'> {
  /**
   * Aborted when SIGTERM or SIGINT comes before the manager is ready: a part that waits (for
   * an external database that does not answer) gives up, and the start fails.
   */
  stopping?: AbortSignal;
}

/** Starts a manager with this configuration (the composition root). */
export type StartManager = (config: Config, io: StartInput) => Promise<Manager>;

/** The process the daemon runs in, as the entry point hands it over. */
export type DaemonProcess = ProcessEvents & SignalSource & Pick<NodeJS.Process, 'getuid'>;

/** Error codes that mean "this start cannot work as configured": exit code 2. */
const startupCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONFIG_INVALID',
  'DATA_DIR_UNUSABLE',
  'PORT_IN_USE',
  'ALREADY_RUNNING',
  'STORE_TOO_NEW',
  'DATABASE_LOGIN',
  'DATABASE_PRIVILEGES',
  'CLUSTER_MISMATCH',
  'CLUSTER_KEY_MISMATCH',
  'NODE_ID_IN_USE',
]);

/**
 * Says why the start failed, on the operator's own terminal (so an unexpected error's message
 * is shown too, as INTERNAL), and gives the exit code: 2 for a start that cannot work as
 * configured, 1 for anything else.
 */
function startFailed(error: unknown, stderr: Console): number {
  const known = error instanceof AppvisorError ? error : undefined;
  stderr.write(
    `appvisor: error ${known?.code ?? 'INTERNAL'}: ${(error as Error | undefined)?.message}\n`,
  );
  return known && startupCodes.has(known.code) ? 2 : 1;
}

/**
 * Runs the daemon until SIGTERM or SIGINT. Resolves with the process exit code: 0 after a
 * clean shutdown, 2 when the start is impossible as configured (bad config, port in use,
 * unusable data folder), 1 for anything else. A second signal forces the shutdown.
 */
export async function runManager(
  input: DaemonInput,
  start: StartManager,
  proc: DaemonProcess,
): Promise<number> {
  let manager: Manager;
  // A signal before the manager is ready stops the start where it waits (an external
  // database that does not answer) and the parts made so far are closed; the signal's default
  // would have ended the process at once, the data folder's lock left behind. A second one
  // gives up waiting for that (exit 1; the entry point exits).
  const stopping = new AbortController();
  let ready = false;
  let forced: (code: number) => void = () => undefined;
  const forcing = new Promise<number>((resolve) => (forced = resolve));
  const early = (name: NodeJS.Signals) => {
    if (ready) return;
    if (stopping.signal.aborted) {
      input.stderr.write(`appvisor: second ${name}: stopping at once\n`);
      forced(1);
      return;
    }
    input.stderr.write(`appvisor: ${name} before the manager was ready: stopping\n`);
    stopping.abort();
  };
  proc.on('SIGTERM', early);
  proc.on('SIGINT', early);
  try {
    const config = await loadConfig({
      flags: input.flags,
      env: input.env,
      cwd: input.cwd,
      isRoot: proc.getuid?.() === 0,
      ...(input.configFile ? { file: input.configFile } : {}),
    });
    const started = start(config, { stderr: input.stderr, stopping: stopping.signal });
    const first = await Promise.race([started, forcing]);
    if (typeof first === 'number') return first;
    manager = first;
  } catch (error) {
    if (stopping.signal.aborted) return 0;
    return startFailed(error, input.stderr);
  } finally {
    ready = true;
  }
  if (stopping.signal.aborted) {
    // The signal came while parts that do not wait were starting: they finished; stop now.
    await manager.close().catch(() => {
      manager.destroy();
    });
    return 0;
  }
  // From here on nothing that escaped is fatal: logged, and the manager goes on serving.
  keepAlive(proc, manager.logger);
  // One write, so that a reader never sees half of it.
  input.stdout.write(`${readyBanner(manager)}\n`);
  return untilStopped(manager, proc);
}
