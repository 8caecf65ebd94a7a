import type { Readable } from 'node:stream';
import { openPromise as openZip, type Entry as ZipEntry, type ZipFile } from 'yauzl';
import { invalid, isPackageError, isSystemError, quote } from './package-checks.js';
import type { Unpacker } from './unpacker.js';

/** Longest symlink target accepted (PATH_MAX on Linux); a zip stores it as the entry's content. */
const maxLinkTarget = 4096;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Unpacks the entries of a zip archive, in the order of its central directory. */
export async function readZip(unpacker: Unpacker, archivePath: string): Promise<void> {
  let zipfile: ZipFile;
  try {
    zipfile = await openZip(archivePath, {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: true,
      validateEntrySizes: true,
      strictFileNames: false,
    });
  } catch (error) {
    throw zipError(error);
  }
  try {
    if (zipfile.entryCount === 0) throw invalid('the archive is empty');
    // The central directory says how many entries yauzl will hand out: refuse a huge one now.
    unpacker.checkAnnouncedEntries(zipfile.entryCount);
    const entries = zipfile.eachEntry();
    for (;;) {
      let next: IteratorResult<ZipEntry>;
      try {
        next = await entries.next();
      } catch (error) {
        throw zipError(error);
      }
      if (next.done === true) break;
      await unpackZipEntry(unpacker, zipfile, next.value);
    }
  } finally {
    zipfile.close(); // the file closes once the last read stream is done with it
  }
}

async function unpackZipEntry(
  unpacker: Unpacker,
  zipfile: ZipFile,
  entry: ZipEntry,
): Promise<void> {
  // yauzl turns backslashes into slashes (strictFileNames: false); look at the stored name.
  const stored = storedBackslashName(entry);
  if (stored !== undefined) throw invalid(`entry name with a backslash: ${quote(stored)}`);
  const name = entry.fileName;
  if (entry.isEncrypted()) throw invalid(`encrypted entry: ${quote(name)}`);
  const unixMode = entry.externalFileAttributes >>> 16;
  const type = unixMode & S_IFMT;
  if (name.endsWith('/') || type === S_IFDIR) {
    if (type !== 0 && type !== S_IFDIR) throw invalid(`unsupported entry type: ${quote(name)}`);
    await unpacker.addDir(name);
  } else if (type === 0 || type === S_IFREG) {
    unpacker.checkDeclared(entry.uncompressedSize, name);
    await unpacker.addFile(name, unixMode, zipChunks(zipfile, entry));
  } else if (type === S_IFLNK) {
    if (entry.uncompressedSize > maxLinkTarget) {
      throw invalid(`symlink target too long: ${quote(name)}`);
    }
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of zipChunks(zipfile, entry)) {
      size += chunk.length;
      if (size > maxLinkTarget) throw invalid(`symlink target too long: ${quote(name)}`);
      parts.push(chunk);
    }
    await unpacker.addSymlink(name, Buffer.concat(parts).toString('utf8'));
  } else {
    throw invalid(`unsupported entry type (not a file, folder or symlink): ${quote(name)}`);
  }
}

/** The entry's name as stored, when it holds a backslash (in the name or its Unicode field). */
function storedBackslashName(entry: ZipEntry): string | undefined {
  if (entry.fileNameRaw.includes(0x5c)) return entry.fileNameRaw.toString('utf8');
  for (const field of entry.extraFields) {
    // Info-ZIP Unicode Path: version (1 byte), CRC of the plain name (4), then the UTF-8 name.
    if (field.id === 0x7075 && field.data.subarray(5).includes(0x5c)) {
      return field.data.subarray(5).toString('utf8');
    }
  }
  return undefined;
}

/**
 * The entry's data. The stream is opened on the first pull, so an entry refused before its data
 * is read leaves nothing open; a failure of the stream itself (bad data, wrong size, cut short)
 * is a corrupt zip.
 */
async function* zipChunks(zipfile: ZipFile, entry: ZipEntry): AsyncGenerator<Buffer> {
  let stream: Readable;
  try {
    stream = await zipfile.openReadStreamPromise(entry);
  } catch (error) {
    throw zipError(error, entry.fileName);
  }
  // yauzl reports a zlib error with a bare emit('error'): it may come before we listen, or after
  // the iteration has let go. Turning it into a destroy keeps it for the iteration (the stream
  // stays errored) and gives every later emit a listener, so none can crash the process.
  stream.on('error', (error) => stream.destroy(error));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (error) {
    throw zipError(error, entry.fileName);
  }
}

function zipError(error: unknown, name?: string): unknown {
  if (isPackageError(error) || isSystemError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return invalid(`invalid zip archive: ${name === undefined ? '' : `${quote(name)}: `}${message}`);
}
