import { open, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { AlarmRaiser } from '../alarms/index.js';
import { AppvisorError } from '../errors/index.js';

/** Free and total bytes of the file system holding the data folder. */
export interface DiskSpace {
  totalBytes: number;
  /** Free for the manager's user (root's reserve excluded). */
  freeBytes: number;
}

/** `GET /disk` and the answer of `POST /disk/release`. */
export interface DiskReport extends DiskSpace {
  path: string;
  /** Bytes the reserve file holds now. */
  reserveBytes: number;
  /** Its configured size (0: no reserve). */
  reserveTargetBytes: number;
  /** disk-low is raised below this many free bytes. */
  lowBytes: number;
  low: boolean;
}

/** Options of {@link DiskWatch}. */
export interface DiskWatchOptions {
  dataDir: string;
  alarms: AlarmRaiser;
  logger: Logger;
  reserveBytes: number;
  lowPercent: number;
  lowBytes: number;
  periodMs: number;
}

const chunkBytes = 1024 * 1024;

/** Reads the free and total space of the file system holding `path`. */
export async function diskSpace(path: string): Promise<DiskSpace> {
  const fs = await statfs(path);
  return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
}

/**
 * Whether an error means the disk is full: ENOSPC or a quota from a file write, or
 * PostgreSQL's disk_full (53100). Such errors are turned into DISK_FULL by
 * {@link diskFullError} where the manager writes.
 */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === '53100';
}

function diskFull(error: unknown, what: string): AppvisorError {
  return new AppvisorError(
    'DISK_FULL',
    `${what}: the disk of the data folder is full (free space with \`appvisor disk release\`)`,
    { cause: error },
  );
}

/** DISK_FULL for an ENOSPC (or quota) error, else the error itself. */
export function diskFullError(error: unknown, what: string): unknown {
  return isDiskFull(error) ? diskFull(error, what) : error;
}

/**
 * Free bytes below which a failure is put down to a full disk: a WAL segment. PostgreSQL that
 * cannot write its WAL stops every session (a PANIC and a crash recovery), so its clients see
 * a lost connection, not an error that names the disk.
 */
export const nearlyFullBytes = 16 * 1024 * 1024;

/**
 * DISK_FULL for a failure that came from a full disk: an error {@link isDiskFull} knows, a
 * text that says so (a tool's message), or any failure while the disk of `path` has less than
 * {@link nearlyFullBytes} free. Refusals of a request (catalog errors below 500) and
 * everything else pass unchanged.
 */
export async function diskFullCause(error: unknown, what: string, path: string): Promise<unknown> {
  if (error instanceof AppvisorError && (error.status < 500 || error.code === 'DISK_FULL')) {
    return error;
  }
  if (
    isDiskFull(error) ||
    /ENOSPC|no space left on device/i.test(String((error as { message?: unknown } | null)?.message))
  ) {
    return diskFull(error, what);
  }
  const space = await diskSpace(path).catch(() => undefined);
  return space && space.freeBytes < nearlyFullBytes ? diskFull(error, what) : error;
}

/**
 * Watches the free space of the data folder: raises `disk-low` below the threshold and clears
 * it once the free space is back above the threshold plus a margin (so that it does not flap),
 * and keeps `<data>/reserve`, a file of real blocks that an admin empties in one step when the
 * disk is full. The reserve is recreated when it fits without bringing the disk to low.
 */
export class DiskWatch implements Component {
  readonly name = 'disk';
  readonly #options: DiskWatchOptions;
  readonly #reservePath: string;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #low = false;
  #closed = false;

  constructor(options: DiskWatchOptions) {
    this.#options = options;
    this.#reservePath = join(options.dataDir, 'reserve');
  }

  async start(): Promise<void> {
    await this.check();
    this.#timer = setInterval(() => {
      void this.check();
    }, this.#options.periodMs);
    this.#timer.unref();
  }

  /** Free bytes below which disk-low is raised, for a disk of `totalBytes`. */
  lowThreshold(totalBytes: number): number {
    return Math.min(
      Math.round((totalBytes * this.#options.lowPercent) / 100),
      this.#options.lowBytes,
    );
  }

  /** Checks the free space and the reserve now; one check at a time. Never throws. */
  check(): Promise<void> {
    this.#checking ??= this.#check()
      .catch((error: unknown) => {
        this.#options.logger.warn({ err: error }, 'disk check failed');
      })
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }

  async #check(): Promise<void> {
    const { alarms, dataDir, reserveBytes } = this.#options;
    let space = await diskSpace(dataDir);
    const threshold = this.lowThreshold(space.totalBytes);
    // The margin above the threshold before the alarm clears: 1 % of the disk or 10 %.
    const margin = Math.max(Math.round(space.totalBytes / 100), Math.round(threshold / 10));
    const have = await this.#reserveSize();
    if (reserveBytes > 0 && have < reserveBytes && !this.#closed) {
      const missing = reserveBytes - have;
      if (space.freeBytes - missing > threshold + margin) {
        await this.#createReserve();
        space = await diskSpace(dataDir);
      }
    } else if (reserveBytes === 0 && have > 0) {
      await rm(this.#reservePath, { force: true });
    }
    if (space.freeBytes < threshold) {
      this.#low = true;
      alarms.raise(
        'disk-low',
        'critical',
        `the data folder's disk has ${mb(space.freeBytes)} free of ${mb(space.totalBytes)} (threshold ${mb(threshold)})`,
        'disk',
      );
    } else if (space.freeBytes >= threshold + margin) {
      this.#low = false;
      alarms.clear('disk-low', `the data folder's disk has ${mb(space.freeBytes)} free`, 'disk');
    }
  }

  async #reserveSize(): Promise<number> {
    try {
      // Allocated blocks, not the length: a sparse file would reserve nothing.
      const info = await stat(this.#reservePath);
      return Math.min(info.size, info.blocks * 512);
    } catch {
      return 0;
    }
  }

  /** Writes the reserve with zeros in chunks and fsyncs it, under a temporary name. */
  async #createReserve(): Promise<void> {
    const temporary = `${this.#reservePath}.new`;
    const chunk = Buffer.alloc(chunkBytes);
    const file = await open(temporary, 'w', 0o600);
    try {
      let written = 0;
      while (written < this.#options.reserveBytes && !this.#closed) {
        const size = Math.min(chunkBytes, this.#options.reserveBytes - written);
        await file.write(chunk, 0, size);
        written += size;
      }
      await file.sync();
      await file.close();
      if (this.#closed) throw new Error('closing');
      await rename(temporary, this.#reservePath);
      this.#options.logger.info({ bytes: written }, 'disk reserve created');
    } catch (error) {
      await file.close().catch(() => undefined);
      await rm(temporary, { force: true });
      if (!isDiskFull(error) && (error as Error).message !== 'closing') throw error;
    }
  }

  /** Empties the reserve in one step (removes it); it comes back when space allows. */
  async release(): Promise<DiskReport> {
    await this.#checking;
    const had = await this.#reserveSize();
    await rm(this.#reservePath, { force: true });
    await rm(`${this.#reservePath}.new`, { force: true });
    this.#options.logger.warn({ bytes: had }, 'disk reserve released');
    return this.report();
  }

  /** Free space, the reserve, and whether disk-low is raised. */
  async report(): Promise<DiskReport> {
    const space = await diskSpace(this.#options.dataDir);
    return {
      path: this.#options.dataDir,
      ...space,
      reserveBytes: await this.#reserveSize(),
      reserveTargetBytes: this.#options.reserveBytes,
      lowBytes: this.lowThreshold(space.totalBytes),
      low: this.#low,
    };
  }

  readonly close = once(async () => {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#checking;
  });

  destroy(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
