import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AppvisorError } from '../errors/index.js';
import { diskFullError } from '../disk/index.js';

/** Limits of one fetch from an app store. */
export interface FetchLimits {
  /** Longest wait for the response head or for the next chunk of the body. */
  stallMs: number;
  /** Longest the whole transfer may take. */
  totalMs: number;
}

interface Body {
  response: Response;
  chunks: AsyncGenerator<Uint8Array>;
}

function unreachable(what: string, url: string, reason: string): AppvisorError {
  return new AppvisorError('APPSTORE_UNREACHABLE', `${what} ${url}: ${reason}`);
}

/**
 * GETs `url` and yields its body chunk by chunk. The transfer is aborted when no byte arrives
 * for `stallMs` or the whole takes longer than `totalMs`; a connection that fails, a cut-off
 * body and a status other than 200 are APPSTORE_UNREACHABLE naming `what`.
 */
async function get(what: string, url: string, limits: FetchLimits): Promise<Body> {
  const controller = new AbortController();
  let reason = '';
  const abort = (why: string) => {
    reason = why;
    controller.abort();
  };
  let stall = setTimeout(() => {
    abort(`no answer for ${limits.stallMs / 1000} s`);
  }, limits.stallMs);
  const total = setTimeout(() => {
    abort(`not complete after ${limits.totalMs / 1000} s`);
  }, limits.totalMs);
  const done = () => {
    clearTimeout(stall);
    clearTimeout(total);
  };
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
  } catch (error) {
    done();
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw unreachable(what, url, reason || cause?.code || cause?.message || String(error));
  }
  if (response.status !== 200) {
    done();
    await response.body?.cancel().catch(() => undefined);
    throw unreachable(what, url, `HTTP ${response.status} ${response.statusText}`.trim());
  }
  const body = response.body;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      if (!body) return;
      // Through a Node stream: the web stream's async iteration is not in every lib's types.
      const stream = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        clearTimeout(stall);
        stall = setTimeout(() => {
          abort(`the transfer stalled for ${limits.stallMs / 1000} s`);
        }, limits.stallMs);
        yield chunk;
      }
    } catch (error) {
      throw unreachable(
        what,
        url,
        reason || `the transfer broke off (${(error as Error).message})`,
      );
    } finally {
      done();
      if (!controller.signal.aborted) controller.abort();
    }
  }
  return { response, chunks: chunks() };
}

/** Fetches a small text document (an index, a signature), at most `maxBytes`. */
export async function fetchText(
  what: string,
  url: string,
  maxBytes: number,
  limits: FetchLimits,
): Promise<string> {
  const { chunks } = await get(what, url, limits);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > maxBytes) {
      await chunks.return(undefined);
      throw new AppvisorError(
        'APPSTORE_INDEX_INVALID',
        `${what} ${url} is larger than ${maxBytes} bytes`,
      );
    }
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts).toString('utf8');
}

/** What a package download must be. */
export interface ExpectedPackage {
  size: number;
  sha256: string;
}

/**
 * Downloads a package to `target` (created, 0600), checking its size while it arrives and its
 * sha256 at the end; the file is fsynced before this resolves. On any failure the file is
 * removed: a caller sees a complete, verified package or nothing. A body longer or shorter
 * than `expected.size` is refused, as is a digest that does not match (PACKAGE_DIGEST_MISMATCH).
 */
export async function downloadPackage(
  url: string,
  target: string,
  expected: ExpectedPackage,
  limits: FetchLimits,
  onProgress?: (received: number) => void,
): Promise<void> {
  const handle = await open(target, 'wx', 0o600);
  let closed = false;
  try {
    const { response, chunks } = await get('package', url, limits);
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared !== expected.size) {
      await chunks.return(undefined);
      throw new AppvisorError(
        'PACKAGE_DIGEST_MISMATCH',
        `package ${url} is ${declared} bytes; the index says ${expected.size}`,
      );
    }
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of chunks) {
      received += chunk.length;
      if (received > expected.size) {
        await chunks.return(undefined);
        throw new AppvisorError(
          'PACKAGE_DIGEST_MISMATCH',
          `package ${url} is longer than the ${expected.size} bytes the index says`,
        );
      }
      hash.update(chunk);
      await handle.write(chunk);
      onProgress?.(received);
    }
    if (received !== expected.size) {
      throw unreachable(
        'package',
        url,
        `the transfer ended after ${received} of ${expected.size} bytes`,
      );
    }
    const digest = hash.digest('hex');
    if (digest !== expected.sha256) {
      throw new AppvisorError(
        'PACKAGE_DIGEST_MISMATCH',
        `package ${url} has sha256 ${digest}; the index says ${expected.sha256}`,
      );
    }
    await handle.sync();
    await handle.close();
    closed = true;
  } catch (error) {
    if (!closed) await handle.close().catch(() => undefined);
    await rm(target, { force: true });
    throw diskFullError(error, 'downloading a package');
  }
}
