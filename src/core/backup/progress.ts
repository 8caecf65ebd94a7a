/**
 * The backups and restores under way, with their phase and bytes: what `GET /backups/running`
 * answers and the CLI shows as a progress line. Bytes are read from the counters of the streams
 * when asked, so following an operation costs nothing per chunk.
 */
import { noPause, type Pause } from '../../lib/pause-points.js';

/**
 * The steps of a backup (`waiting` for the instance's queue or a free dump slot, `database`,
 * `files`, `archive`, then `verify` when asked) and of a restore (`waiting`, `unpack`,
 * `database`, `files`).
 */
export type BackupPhase = 'waiting' | 'unpack' | 'database' | 'files' | 'archive' | 'verify';

/** One backup or restore under way. */
export interface BackupProgress {
  operation: 'backup' | 'restore';
  /** The instance backed up, or restored into (or created by the restore). */
  instance: string;
  phase: BackupPhase;
  /**
   * Bytes of the phase done so far: of the plain dump (backup `database`), of the folder's tar
   * (`files`), of the archive written (`archive`), of the compressed dump replayed (restore
   * `database`), of the folder's tar extracted (restore `files`); 0 in the other phases.
   */
  bytes: number;
  /** The phase's total bytes, when known before it ends. */
  totalBytes: number | null;
  startedAt: string;
  /** When the phase began (for a rate over the phase). */
  phaseStartedAt: string;
}

/** What a job reports its phases to; see {@link ProgressBoard.begin}. */
export interface ProgressTracker {
  /**
   * A new phase, whose bytes done `bytes` tells when asked, out of `totalBytes` if known.
   * Resolves once it shows (after the test-only pause `<operation>.<phase before>`).
   */
  phase(phase: BackupPhase, bytes?: () => number, totalBytes?: number): Promise<void>;
  /**
   * The work is done: resolves after the test-only pause at the end of the last phase (each
   * other phase's end is the next one's start), which still shows with all its bytes.
   */
  done(): Promise<void>;
  /** The operation ended, well or not. */
  end(): void;
}

/** A tracker that reports nowhere (writes outside the service, as in tests of the archive). */
export const noProgress: ProgressTracker = {
  phase: () => Promise.resolve(),
  done: () => Promise.resolve(),
  end: () => undefined,
};

interface Running {
  view: Omit<BackupProgress, 'bytes'>;
  bytes: () => number;
}

/** The operations under way, in the order they began. */
export class ProgressBoard {
  readonly #running = new Set<Running>();

  /**
   * `pause`: the test-only pauses (config `testing.pauses`), at the end of each phase, while the
   * phase still shows with all its bytes (step `backup.database`, `restore.unpack` ...).
   */
  constructor(
    private readonly pause: Pause = noPause,
    private readonly now: () => number = Date.now,
  ) {}

  /** Begins following an operation, in phase `waiting`. */
  begin(operation: BackupProgress['operation'], instance: string): ProgressTracker {
    const at = new Date(this.now()).toISOString();
    const entry: Running = {
      view: {
        operation,
        instance,
        phase: 'waiting',
        totalBytes: null,
        startedAt: at,
        phaseStartedAt: at,
      },
      bytes: () => 0,
    };
    this.#running.add(entry);
    return {
      phase: async (phase, bytes = () => 0, totalBytes) => {
        await this.pause(`${operation}.${entry.view.phase}`);
        entry.view = {
          ...entry.view,
          phase,
          totalBytes: totalBytes ?? null,
          phaseStartedAt: new Date(this.now()).toISOString(),
        };
        entry.bytes = bytes;
      },
      done: () => this.pause(`${operation}.${entry.view.phase}`),
      end: () => {
        this.#running.delete(entry);
      },
    };
  }

  /** The operations under way now. */
  list(): BackupProgress[] {
    return [...this.#running].map(({ view, bytes }) => ({ ...view, bytes: bytes() }));
  }
}
