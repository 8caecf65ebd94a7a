import { open, rename, stat, type FileHandle } from 'node:fs/promises';

/** Options of a {@link RotatingFile}. */
export interface RotatingFileOptions {
  /** The live file; rotated copies are `<path>.1` (newest) to `<path>.<files-1>` (oldest). */
  path: string;
  /** Largest size of one file in bytes; a single write larger than this is cut to fit. */
  maxBytes: number;
  /** How many files are kept in all, the live one included (at least 1). */
  files: number;
  /** Mode of newly created files. */
  mode?: number;
  /**
   * Bytes that may wait in memory for the disk. Writes beyond it are dropped and counted, so a
   * writer faster than the disk never grows the manager's memory without bound.
   */
  maxQueuedBytes?: number;
  /** Told about write failures (a full disk, say); the file keeps accepting writes. */
  onError?: (error: Error) => void;
}

/**
 * An append-only log file capped in size: at most `files × maxBytes` bytes on disk, whatever
 * is written. Writes are queued and written in order by one background loop, never blocking
 * the caller.
 */
export class RotatingFile {
  readonly #options: Required<Omit<RotatingFileOptions, 'onError'>> &
    Pick<RotatingFileOptions, 'onError'>;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  /** Bytes taken from the queue and being written now; they still count against the cap. */
  #inFlightBytes = 0;
  #handle: FileHandle | undefined;
  #size = 0;
  #draining: Promise<void> | undefined;
  #closed = false;
  #dropped = 0;

  constructor(options: RotatingFileOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError('maxBytes must be positive');
    if (!(options.files >= 1)) throw new RangeError('files must be at least 1');
    this.#options = {
      mode: 0o640,
      maxQueuedBytes: 8 * 1024 * 1024,
      ...options,
    };
  }

  /** Bytes dropped so far because the queue was full or the disk refused them. */
  get droppedBytes(): number {
    return this.#dropped;
  }

  /** Queues a chunk. Returns false when it was dropped (queue full or file closed). */
  write(chunk: string | Uint8Array): boolean {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    const waiting = this.#queuedBytes + this.#inFlightBytes + buffer.length;
    if (this.#closed || waiting > this.#options.maxQueuedBytes) {
      this.#dropped += buffer.length;
      return false;
    }
    this.#queue.push(buffer);
    this.#queuedBytes += buffer.length;
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
    return true;
  }

  /** Resolves once everything written before the call is on disk (not fsynced). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Flushes and closes the file. Later writes are dropped. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const chunks = this.#queue;
      this.#queue = [];
      this.#inFlightBytes = this.#queuedBytes;
      this.#queuedBytes = 0;
      try {
        await this.#writeChunks(chunks);
      } catch (error) {
        for (const chunk of chunks) this.#dropped += chunk.length;
        this.#options.onError?.(error as Error);
        // reopen on the next write: the handle may be unusable
        await this.#handle?.close().catch(() => undefined);
        this.#handle = undefined;
      } finally {
        this.#inFlightBytes = 0;
      }
    }
  }

  async #writeChunks(chunks: Buffer[]): Promise<void> {
    const { maxBytes } = this.#options;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (let chunk of chunks) {
      if (chunk.length > maxBytes) chunk = chunk.subarray(0, maxBytes);
      const handle = await this.#open();
      if (this.#size + batchBytes + chunk.length > maxBytes && this.#size + batchBytes > 0) {
        await this.#writeAll(handle, batch, batchBytes);
        batch = [];
        batchBytes = 0;
        await this.#rotate();
      }
      batch.push(chunk);
      batchBytes += chunk.length;
    }
    if (batchBytes > 0) await this.#writeAll(await this.#open(), batch, batchBytes);
  }

  async #writeAll(handle: FileHandle, batch: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    await handle.writev(batch);
    this.#size += bytes;
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle) return this.#handle;
    const handle = await open(this.#options.path, 'a', this.#options.mode);
    this.#size = (await handle.stat()).size;
    this.#handle = handle;
    return handle;
  }

  async #rotate(): Promise<void> {
    const { path, files } = this.#options;
    await this.#handle?.close();
    this.#handle = undefined;
    if (files === 1) {
      this.#handle = await open(path, 'w', this.#options.mode);
      this.#size = 0;
      return;
    }
    for (let i = files - 1; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`;
      await rename(from, `${path}.${i}`).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
    this.#handle = await open(path, 'a', this.#options.mode);
    this.#size = 0;
  }
}

/** The files a {@link RotatingFile} at `path` keeps, oldest first, that exist now. */
export async function rotatedFiles(path: string, files: number): Promise<string[]> {
  const names = [];
  for (let i = files - 1; i >= 0; i--) {
    const name = i === 0 ? path : `${path}.${i}`;
    try {
      await stat(name);
      names.push(name);
    } catch {
      // not there (yet)
    }
  }
  return names;
}
