/**
 * The text of progress lines about bytes (see progress.ts for the line itself): how much of
 * what is done, at what rate, and the bytes a stream sent so far. Shared by the commands that
 * move or make many bytes (backups, restores, store installs, uploads, downloads).
 */
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { CommandContext } from './context.js';
import { bytes } from './output.js';
import { progressLine, withProgress } from './progress.js';

/** Seconds of samples a rate is taken over: recent enough to follow a change, long enough to be steady. */
const rateWindowMs = 5000;

/**
 * The rate of a count that grows (bytes done), from samples taken when the line is drawn. A new
 * `key` (another phase, another file) starts over: a rate never spans two phases.
 */
export class RateMeter {
  #key: string | undefined;
  #samples: { at: number; bytes: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Adds a sample; answers bytes per second, or undefined until there are two samples apart. */
  sample(key: string, done: number): number | undefined {
    const at = this.now();
    if (key !== this.#key || (this.#samples.at(-1)?.bytes ?? 0) > done) {
      this.#key = key;
      this.#samples = [];
    }
    this.#samples.push({ at, bytes: done });
    while (this.#samples.length > 2 && at - (this.#samples[1]?.at ?? at) >= rateWindowMs)
      this.#samples.shift();
    const first = this.#samples[0];
    if (!first || at - first.at < 200) return undefined;
    return ((done - first.bytes) * 1000) / (at - first.at);
  }
}

/** `12.0 MiB of 40.0 MiB (30%), 2.1 MiB/s`: bytes done, of the total when known, at the rate. */
export function bytesText(done: number, total: number | null, rate: number | undefined): string {
  const of =
    total !== null && total > 0
      ? ` of ${bytes(total)} (${Math.min(100, Math.floor((done / total) * 100))}%)`
      : '';
  const speed = rate === undefined ? '' : `, ${bytes(Math.max(0, Math.round(rate)))}/s`;
  return `${bytes(done)}${of}${speed}`;
}

/** A pass-through that counts what goes by. */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/**
 * `source` through a {@link ByteCounter}: the stream to send, and the counter to read. An error
 * of `source` fails the stream sent (so the request fails), as piping alone would not.
 */
export function counted(source: Readable): { stream: Readable; counter: ByteCounter } {
  const counter = new ByteCounter();
  return { stream: pipeline(source, counter, () => undefined), counter };
}

/**
 * Sends `source` with `send` and a progress line on a terminal: `what` and the bytes sent (of
 * `total` when known), then `after` once all is sent and the manager works on it. Without a
 * line, `source` is sent as it is.
 */
export function withUploadProgress<T>(
  context: CommandContext,
  upload: { what: string; source: Readable; total: number | null; after: string },
  send: (stream: Readable) => Promise<T>,
): Promise<T> {
  const line = progressLine(context);
  if (!line) return send(upload.source);
  const { stream, counter } = counted(upload.source);
  let sent = false;
  counter.once('finish', () => (sent = true));
  const meter = new RateMeter();
  return withProgress(
    line,
    () =>
      Promise.resolve(
        sent
          ? `${upload.what}: sent ${bytes(counter.bytes)}; ${upload.after}`
          : `${upload.what}: sending ${bytesText(counter.bytes, upload.total, meter.sample('send', counter.bytes))}`,
      ),
    () => send(stream),
  );
}
