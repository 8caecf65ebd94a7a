import type { Clock } from '../supervisor/index.js';
import type { BackupTargets } from './targets.js';
import type { BackupServiceOptions, DumpTools, Retention, StoredSchedule } from './model.js';
import type { ProgressBoard } from './progress.js';

/** Runs at most `limit` tasks at once, the others in order. */
export class Limiter {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}

/**
 * What the jobs of the backup service share (create.ts, retention.ts, listing.ts,
 * restore-job.ts, schedules.ts): built once by {@link BackupService}, which is the only one to
 * hand it out.
 */
export interface BackupContext {
  readonly options: BackupServiceOptions;
  /** The backup folder (`options.folder`). */
  readonly folder: string;
  /** Work files of backups and restores, in the backup folder (removed at start). */
  readonly workDir: string;
  readonly clock: Pick<Clock, 'now'>;
  readonly tools: DumpTools;
  /** Dumps that run at once: at most `options.parallel`. */
  readonly limiter: Limiter;
  /** Names and retention of pre-update backups. */
  readonly updates: Retention;
  /** The remote targets. */
  readonly targets: BackupTargets;
  /** The backups and restores under way, with their phase and bytes. */
  readonly progress: ProgressBoard;
  /** The schedule as stored: a backup's template and slots unless it names others. */
  schedule(): StoredSchedule;
}
