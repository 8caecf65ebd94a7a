import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AppvisorError } from '../errors/index.js';
import { createChannel, inputState, slot, wakeReader, writeRing } from './channel.js';
import type { WorkerJob, WorkerMessage } from './worker-protocol.js';

/** One run of the WebAssembly pg_dump. */
export interface PgDumpJob {
  args: string[];
  /** Given to libpq through the module's `.pgpass`. */
  password?: string;
  /** The server libpq talks to: the main thread opens this TCP connection for it. */
  server?: { host: string; port: number };
  signal?: AbortSignal;
}

/** What a finished run printed. */
export interface PgDumpResult {
  stdout: string;
  stderr: string;
}

/** A running pg_dump: its output file as a stream, and how it ended. */
export interface PgDumpRun {
  /** What pg_dump writes to its output device; errors as the run fails. */
  output: Readable;
  /** Resolves when pg_dump exited 0, rejects with the same error as `output` otherwise. */
  result: Promise<PgDumpResult>;
}

/** An aborted run's error, like Node's own (`name` AbortError, `code` ABORT_ERR). */
function abortError(signal: AbortSignal): Error {
  const error = new Error('the dump was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  (error as Error & { code: string }).code = 'ABORT_ERR';
  return error;
}

function dumpFailed(text: string): AppvisorError {
  return new AppvisorError('DUMP_FAILED', text);
}

/** The worker's file beside this one: works from dist/ as compiled. */
const workerUrl = new URL('./dump-worker.js', import.meta.url);

/** Output waiting in the stream before it reports backpressure. */
const streamHighWaterMark = 256 * 1024;

/**
 * One run: the worker, the socket its libpq talks through, and the stream of its output. Every
 * way the run ends goes through {@link finish}, once.
 */
class PgDumpBridge {
  readonly #job: PgDumpJob;
  readonly #channel = createChannel();
  /** Output received from the worker that the stream has not taken yet. */
  readonly #queue: Buffer[] = [];
  #paused = false;
  #exitResult: PgDumpResult | undefined;
  #settled = false;
  #socket: Socket | undefined;
  #socketError: Error | undefined;
  #pendingInput: Buffer | undefined;
  /** The socket ended while some of its data still waited for ring space. */
  #inputEndDeferred = false;
  readonly #worker: Worker;
  readonly output: Readable;
  readonly result: Promise<PgDumpResult>;
  #resolveResult!: (result: PgDumpResult) => void;
  #rejectResult!: (error: Error) => void;
  readonly #onAbort = (): void => {
    this.#finish(abortError(this.#job.signal!));
  };

  constructor(job: PgDumpJob) {
    this.#job = job;
    this.result = new Promise<PgDumpResult>((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
    // A caller that only reads the stream sees the error there.
    this.result.catch(() => undefined);
    this.output = new Readable({
      highWaterMark: streamHighWaterMark,
      read: () => {
        this.#paused = false;
        this.#drain();
      },
      destroy: (error, callback) => {
        // The consumer gave up (or the run failed): nothing may keep running for it.
        if (!this.#settled) {
          this.#finish(error ?? new Error('the dump stream was destroyed before its end'));
        }
        callback(error);
      },
    });
    const data: WorkerJob = {
      channel: this.#channel.buffer,
      args: job.args,
      password: job.password,
    };
    this.#worker = new Worker(workerUrl, { workerData: data });
    this.#worker.on('message', (message: WorkerMessage) => {
      this.#onMessage(message);
    });
    this.#worker.on('error', (error) => {
      this.#finish(dumpFailed(`the pg_dump worker failed: ${error.message}`));
    });
    this.#worker.on('exit', (code) => {
      if (!this.#settled && !this.#exitResult) {
        this.#finish(dumpFailed(`the pg_dump worker stopped unexpectedly (exit ${code})`));
      }
    });
    if (job.server) this.#connect(job.server);
    if (job.signal?.aborted) {
      // Still asynchronous for the caller: the stream errors after it is returned.
      queueMicrotask(this.#onAbort);
    } else {
      job.signal?.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  #stop(): void {
    const { control } = this.#channel;
    Atomics.store(control, slot.cancelled, 1);
    Atomics.store(control, slot.state, inputState.ended);
    wakeReader(this.#channel);
    Atomics.notify(control, slot.outPending);
    void this.#worker.terminate().catch(() => undefined);
    this.#socket?.destroy();
    this.#job.signal?.removeEventListener('abort', this.#onAbort);
  }

  /** Ends the run once: with the result, or with an error that also destroys the stream. */
  #finish(error: Error | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#stop();
    if (error) {
      this.#rejectResult(error);
      if (!this.output.destroyed) this.output.destroy(error);
    } else {
      this.#resolveResult(this.#exitResult!);
    }
  }

  /** Hands queued output to the stream while it wants more; the worker gets its credit back. */
  #drain(): void {
    const { control } = this.#channel;
    while (!this.#paused && this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      Atomics.sub(control, slot.outPending, chunk.length);
      Atomics.notify(control, slot.outPending);
      if (!this.output.push(chunk)) this.#paused = true;
    }
    if (this.#queue.length === 0 && this.#exitResult && !this.#settled) {
      this.output.push(null);
      this.#finish(undefined);
    }
  }

  /** The run's error: what failed, pg_dump's stderr, and the socket's own error if any. */
  #failure(message: string, stderr: string): Error {
    const text = stderr.trim();
    let full = text ? `${message}: ${text}` : message;
    if (this.#socketError) full += ` (socket: ${this.#socketError.message})`;
    return dumpFailed(full);
  }

  #onMessage(message: WorkerMessage): void {
    if (this.#settled) return;
    switch (message.type) {
      case 'send':
        if (this.#socket && !this.#socket.destroyed) this.#socket.write(message.data);
        break;
      case 'space':
        if (this.#pendingInput) {
          const rest = this.#pendingInput;
          this.#pendingInput = undefined;
          if (this.#feed(rest)) {
            if (this.#inputEndDeferred) this.#endInput();
            else this.#socket?.resume();
          }
        }
        break;
      case 'output':
        this.#queue.push(
          Buffer.from(message.data.buffer, message.data.byteOffset, message.data.length),
        );
        this.#drain();
        break;
      case 'exit':
        if (message.code === 0) {
          this.#exitResult = { stdout: message.stdout, stderr: message.stderr };
          this.#drain();
        } else {
          this.#finish(this.#failure(`pg_dump failed (exit ${message.code})`, message.stderr));
        }
        break;
      case 'failed':
        this.#finish(this.#failure(message.message, message.stderr));
        break;
    }
  }

  /**
   * Puts socket data into the ring; what does not fit waits, with the socket paused.
   * True when all of it went in.
   */
  #feed(chunk: Buffer): boolean {
    let taken = writeRing(this.#channel, chunk);
    if (taken < chunk.length) {
      // Flag first, then retry: either the retry finds the space the worker freed, or the
      // worker sees the flag after freeing more and says so. No wake-up is lost.
      Atomics.store(this.#channel.control, slot.wantSpace, 1);
      taken += writeRing(this.#channel, chunk.subarray(taken));
      if (taken < chunk.length) {
        this.#pendingInput = chunk.subarray(taken);
        this.#socket?.pause();
        return false;
      }
    }
    return true;
  }

  readonly #endInput = (): void => {
    if (this.#pendingInput && !this.#socketError) {
      this.#inputEndDeferred = true;
      return;
    }
    Atomics.store(this.#channel.control, slot.state, inputState.ended);
    wakeReader(this.#channel);
  };

  #connect(server: { host: string; port: number }): void {
    const socket = connect({ host: server.host, port: server.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#feed(chunk);
    });
    socket.on('end', this.#endInput);
    socket.on('close', this.#endInput);
    socket.on('error', (error) => {
      this.#socketError = error;
      this.#endInput();
    });
  }
}

/**
 * Runs pg_dump in a worker thread, bridging its libpq to a real socket owned by this thread,
 * and streams its output with backpressure down to the worker. Whatever ends the run (exit,
 * failure, abort, the consumer destroying the stream), the worker is terminated and the
 * socket closed.
 */
export function runPgDump(job: PgDumpJob): PgDumpRun {
  const run = new PgDumpBridge(job);
  return { output: run.output, result: run.result };
}
