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
 * Runs pg_dump in a worker thread, bridging its libpq to a real socket owned by this thread,
 * and streams its output with backpressure down to the worker. Whatever ends the run (exit,
 * failure, abort, the consumer destroying the stream), the worker is terminated and the
 * socket closed.
 */
export function runPgDump(job: PgDumpJob): PgDumpRun {
  const channel = createChannel();
  const { control } = channel;
  const queue: Buffer[] = [];
  let paused = false;
  let exitResult: PgDumpResult | undefined;
  let settled = false;
  let socket: Socket | undefined;
  let socketError: Error | undefined;
  let pendingInput: Buffer | undefined;
  /** The socket ended while some of its data still waited for ring space. */
  let inputEndDeferred = false;
  let resolveResult!: (result: PgDumpResult) => void;
  let rejectResult!: (error: Error) => void;
  const result = new Promise<PgDumpResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // A caller that only reads the stream sees the error there.
  result.catch(() => undefined);

  const output = new Readable({
    highWaterMark: streamHighWaterMark,
    read() {
      paused = false;
      drain();
    },
    destroy(error, callback) {
      // The consumer gave up (or the run failed): nothing may keep running for it.
      if (!settled) finish(error ?? new Error('the dump stream was destroyed before its end'));
      callback(error);
    },
  });

  const data: WorkerJob = { channel: channel.buffer, args: job.args, password: job.password };
  const worker = new Worker(workerUrl, { workerData: data });

  function stop(): void {
    Atomics.store(control, slot.cancelled, 1);
    Atomics.store(control, slot.state, inputState.ended);
    wakeReader(channel);
    Atomics.notify(control, slot.outPending);
    void worker.terminate().catch(() => undefined);
    socket?.destroy();
    job.signal?.removeEventListener('abort', onAbort);
  }

  /** Ends the run once: with the result, or with an error that also destroys the stream. */
  function finish(error: Error | undefined): void {
    if (settled) return;
    settled = true;
    stop();
    if (error) {
      rejectResult(error);
      if (!output.destroyed) output.destroy(error);
    } else {
      resolveResult(exitResult!);
    }
  }

  /** Hands queued output to the stream while it wants more; the worker gets its credit back. */
  function drain(): void {
    while (!paused && queue.length > 0) {
      const chunk = queue.shift()!;
      Atomics.sub(control, slot.outPending, chunk.length);
      Atomics.notify(control, slot.outPending);
      if (!output.push(chunk)) paused = true;
    }
    if (queue.length === 0 && exitResult && !settled) {
      output.push(null);
      finish(undefined);
    }
  }

  /** The run's error: what failed, pg_dump's stderr, and the socket's own error if any. */
  function failure(message: string, stderr: string): Error {
    const text = stderr.trim();
    let full = text ? `${message}: ${text}` : message;
    if (socketError) full += ` (socket: ${socketError.message})`;
    return dumpFailed(full);
  }

  worker.on('message', (message: WorkerMessage) => {
    if (settled) return;
    switch (message.type) {
      case 'send':
        if (socket && !socket.destroyed) socket.write(message.data);
        break;
      case 'space':
        if (pendingInput) {
          const rest = pendingInput;
          pendingInput = undefined;
          if (feed(rest)) {
            if (inputEndDeferred) endInput();
            else socket?.resume();
          }
        }
        break;
      case 'output':
        queue.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.length));
        drain();
        break;
      case 'exit':
        if (message.code === 0) {
          exitResult = { stdout: message.stdout, stderr: message.stderr };
          drain();
        } else {
          finish(failure(`pg_dump failed (exit ${message.code})`, message.stderr));
        }
        break;
      case 'failed':
        finish(failure(message.message, message.stderr));
        break;
    }
  });
  worker.on('error', (error) => {
    finish(dumpFailed(`the pg_dump worker failed: ${error.message}`));
  });
  worker.on('exit', (code) => {
    if (!settled && !exitResult) {
      finish(dumpFailed(`the pg_dump worker stopped unexpectedly (exit ${code})`));
    }
  });

  /**
   * Puts socket data into the ring; what does not fit waits, with the socket paused.
   * True when all of it went in.
   */
  function feed(chunk: Buffer): boolean {
    let taken = writeRing(channel, chunk);
    if (taken < chunk.length) {
      // Flag first, then retry: either the retry finds the space the worker freed, or the
      // worker sees the flag after freeing more and says so. No wake-up is lost.
      Atomics.store(control, slot.wantSpace, 1);
      taken += writeRing(channel, chunk.subarray(taken));
      if (taken < chunk.length) {
        pendingInput = chunk.subarray(taken);
        socket?.pause();
        return false;
      }
    }
    return true;
  }

  function endInput(): void {
    if (pendingInput && !socketError) {
      inputEndDeferred = true;
      return;
    }
    Atomics.store(control, slot.state, inputState.ended);
    wakeReader(channel);
  }

  if (job.server) {
    socket = connect({ host: job.server.host, port: job.server.port });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      feed(chunk);
    });
    socket.on('end', endInput);
    socket.on('close', endInput);
    socket.on('error', (error) => {
      socketError = error;
      endInput();
    });
  }

  function onAbort(): void {
    finish(abortError(job.signal!));
  }
  if (job.signal?.aborted) {
    // Still asynchronous for the caller: the stream errors after it is returned.
    queueMicrotask(onAbort);
  } else {
    job.signal?.addEventListener('abort', onAbort, { once: true });
  }

  return { output, result };
}
