import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { invalid, isPackageError, isSystemError, quote } from './package-checks.js';
import type { Unpacker } from './unpacker.js';

/** Chunk size of the tar reading and decompressing. */
const chunkSize = 1024 * 1024;

function ignoreError(): void {
  // for a promise whose rejection is handled elsewhere
}

/** What one read of a tar archive keeps while the parser and the unpacking run. */
interface TarRead {
  failure?: Error;
  /** The entry being unpacked. */
  current?: ReadEntry;
  /** Two zero blocks were seen: the parser reads nothing after them. */
  reachedEof: boolean;
  /** The last thing seen was a zero block, not an entry: the archive was not cut short. */
  endMarker: boolean;
  /** The entries' unpacking, one after the other. */
  chain: Promise<void>;
  /** Aborted at the first failure: stops the reading and the pipeline. */
  abort: AbortController;
  /** Records the first failure and stops everything; later ones are dropped. */
  fail: (error: unknown) => void;
}

function startRead(): TarRead {
  const read: TarRead = {
    reachedEof: false,
    endMarker: false,
    chain: Promise.resolve(),
    abort: new AbortController(),
    fail: (error) => {
      if (read.failure !== undefined) return;
      read.failure = error instanceof Error ? error : new Error(String(error));
      read.abort.abort();
      // An entry waiting for data that will never come is ended, so the chain settles. Not at
      // once: the failure may be reported from inside the parser, which may still write to it.
      const stuck = read.current;
      queueMicrotask(() => stuck?.end());
    },
  };
  return read;
}

/**
 * Feeds the (gunzipped) file to node-tar's parser and unpacks its entries one at a time, in a
 * promise chain: the parser hands out the next entry only once the current one has been read,
 * and reading a file's data waits for the disk, so backpressure reaches the file read stream.
 */
export async function readTar(
  unpacker: Unpacker,
  archivePath: string,
  gzip: boolean,
): Promise<void> {
  // strict: every warning (bad checksum, truncation, unknown format) becomes an error.
  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  const read = startRead();
  listen(parser, unpacker, read);
  const feed = feeder(parser, unpacker, read);
  const { signal } = read.abort;
  try {
    // Larger chunks than the defaults (64 KiB, 16 KiB): each one is a round trip to the disk.
    const input = createReadStream(archivePath, { highWaterMark: chunkSize });
    if (gzip) await pipeline(input, createGunzip({ chunkSize }), feed, { signal });
    else await pipeline(input, feed, { signal });
  } catch (error) {
    read.fail(
      isPackageError(error) || isSystemError(error)
        ? error
        : invalid(`invalid tar archive: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
  await read.chain;
  if (read.failure === undefined && !read.endMarker) {
    read.failure = invalid('invalid tar archive: truncated (no end-of-archive marker)');
  }
  if (read.failure !== undefined) throw read.failure;
}

/** What the parser reports: failures, the end marker, and the entries, queued on the chain. */
function listen(parser: Parser, unpacker: Unpacker, read: TarRead): void {
  const { fail } = read;
  parser.on('warn', (_code: string, message: unknown) => {
    fail(invalid(`invalid tar archive: ${String(message)}`));
  });
  parser.on('error', (error: Error) => {
    fail(invalid(`invalid tar archive: ${error.message}`));
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    fail(
      entry.meta
        ? invalid(`invalid tar archive: an extended header over 1 MiB (${quote(entry.path)})`)
        : invalid(`unsupported entry type (${entry.type}): ${quote(entry.path)}`),
    );
  });
  parser.on('nullBlock', () => {
    read.endMarker = true;
  });
  parser.on('eof', () => {
    read.endMarker = true;
    read.reachedEof = true;
  });
  parser.on('entry', (entry: ReadEntry) => {
    read.endMarker = false;
    read.chain = read.chain.then(async () => {
      if (read.failure !== undefined) {
        entry.resume();
        return;
      }
      read.current = entry;
      try {
        await unpackTarEntry(unpacker, entry);
      } catch (error) {
        fail(error);
        entry.resume();
      } finally {
        read.current = undefined;
      }
    });
  });
}

/** The pipeline's last stage: counts the decompressed bytes and writes them to the parser. */
function feeder(
  parser: Parser,
  unpacker: Unpacker,
  read: TarRead,
): (source: AsyncIterable<Buffer>, options?: { signal?: AbortSignal }) => Promise<void> {
  // pipeline passes its own signal, aborted when another stage fails (a corrupt gzip).
  return async (source, options) => {
    const abort = read.abort.signal;
    const signal = options?.signal ? AbortSignal.any([abort, options.signal]) : abort;
    try {
      for await (const chunk of source) {
        if (read.failure !== undefined) return;
        unpacker.countStream(chunk.length);
        // After the end marker the rest is read (a gzip checksum checked, the bytes counted
        // against the limits) but not parsed: node-tar would only keep it in memory.
        if (read.reachedEof) continue;
        if (!parser.write(chunk)) await once(parser, 'drain', { signal });
      }
      const ended = once(parser, 'end', { signal });
      ended.catch(ignoreError); // awaited below, unless end() throws
      parser.end();
      await ended;
    } catch (error) {
      // Recorded here: pipeline may report the AbortError of a stage it tore down instead.
      if (isPackageError(error)) read.fail(error);
      throw error;
    }
  };
}

async function unpackTarEntry(unpacker: Unpacker, entry: ReadEntry): Promise<void> {
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      await unpacker.addFile(entry.path, entry.mode ?? 0, entry);
      return;
    case 'Directory':
      await unpacker.addDir(entry.path);
      break;
    case 'SymbolicLink':
      await unpacker.addSymlink(entry.path, entry.linkpath ?? '');
      break;
    case 'Link':
      await unpacker.addHardlink(entry.path, entry.linkpath ?? '');
      break;
    default:
      throw invalid(
        `unsupported entry type (${entry.type}; not a file, folder or link): ${quote(entry.path)}`,
      );
  }
  // No data belongs to these; any there is read with the stream (and counted), not written.
  entry.resume();
}
