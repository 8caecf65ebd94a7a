/**
 * Unpacks an app package archive (.zip, .tar.gz/.tgz or .tar) into a fresh folder, refusing
 * anything that could write outside that folder, smuggle in special files or exhaust the disk.
 *
 * Nothing here trusts the archive: names are checked before anything is created, links are
 * resolved against what the archive itself created, and sizes are counted on the bytes that
 * really come out of the decompressor, never taken from headers. On any refusal the target
 * folder is removed, so a caller sees either a complete, checked package or nothing.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { chmod, link, mkdir, open, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { openPromise as openZip, type Entry as ZipEntry, type ZipFile } from 'yauzl';
import { AppvisorError } from '../errors/index.js';
import { appIdPattern } from './manifest.js';

/** Limits that stop archive bombs; see {@link extractPackage}. */
export interface PackageLimits {
  /** Total bytes of file content unpacked. */
  maxBytes: number;
  /** Entries in the archive (files, folders, links), the top folder included. */
  maxEntries: number;
  /** Unpacked bytes divided by the archive's size on disk. */
  maxRatio: number;
}

/** The limits used when a caller gives none: 1 GiB, 100 000 entries, ratio 200. */
export const defaultPackageLimits: PackageLimits = Object.freeze({
  maxBytes: 1024 ** 3,
  maxEntries: 100_000,
  maxRatio: 200,
});

/** What {@link extractPackage} unpacked. */
export interface ExtractedPackage {
  /** The app id: the name of the archive's top folder. */
  id: string;
  /** Entries in the archive, the top folder's own entry included when the archive has one. */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
}

/** Options of {@link extractPackage}. */
export interface ExtractOptions {
  /** When given, the archive's top folder must carry exactly this name. */
  expectedId?: string;
  /** Overrides of {@link defaultPackageLimits}. */
  limits?: Partial<PackageLimits>;
}

/** Unpacked sizes below this are never refused for their compression ratio. */
const ratioFloor = 16 * 1024 * 1024;
const idRule = 'an app id is 1 to 64 characters of A-Z a-z 0-9 _ -';

/** Longest symlink target accepted (PATH_MAX on Linux); a zip stores it as the entry's content. */
const maxLinkTarget = 4096;

/** Chunk size of the tar reading and decompressing. */
const chunkSize = 1024 * 1024;

/** Symlinks followed while checking where a link leads; more than this is treated as a loop. */
const maxLinkHops = 40;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The one place that builds this module's errors. */
function packageError(code: 'PACKAGE_INVALID' | 'INVALID_APP_ID', message: string): Error {
  return new AppvisorError(code, message);
}

function invalid(message: string): Error {
  return packageError('PACKAGE_INVALID', message);
}

/**
 * Unpacks the package archive at `archivePath` into the folder `target`.
 *
 * The format is detected from the file's first bytes, never its name: zip, gzip-compressed tar,
 * or plain (ustar) tar. `target` must not exist yet and its parent must; it is created with mode
 * 0o755. The archive must hold exactly one top folder, whose name is the app id (1–64 of
 * `A-Z a-z 0-9 _ -`, and equal to `expectedId` when given); the top folder's content, not the
 * folder itself, lands in `target`.
 *
 * Files get mode 0o755 when the archive gives them any execute bit, else 0o644; folders 0o755.
 * Owners, timestamps and special bits are not restored. Symlinks are created as symlinks when
 * they stay inside the package; tar hard links become hard links to a file unpacked earlier.
 *
 * Throws `INVALID_APP_ID` for an invalid id (the top folder's or `expectedId`), and
 * `PACKAGE_INVALID`, with a message naming the offending entry, for: absolute names, `..`
 * segments, backslashes, more than one top folder or anything but a folder at the top level, a
 * top folder other than `expectedId`, symlinks that are absolute or lead out of the package,
 * hard links to outside or to no earlier file, devices, FIFOs and any other special entry, an
 * entry placed inside a file or symlink, duplicates other than repeated folders, limits passed
 * (counted on the bytes actually unpacked, and stopped as soon as one is passed), a corrupt,
 * truncated, empty or unrecognised archive. For a tar the whole decompressed stream (headers,
 * padding, data after the end marker) counts against `maxBytes` and `maxRatio` as well, so no
 * part of the archive can make the reader work past the limits. On every failure `target` is
 * removed entirely. Errors that are not the package's fault (the archive cannot be read, the
 * disk is full) are thrown as they are, after the same clean-up; a `target` that already exists
 * is an `EEXIST` error and is left alone.
 */
export async function extractPackage(
  archivePath: string,
  target: string,
  options: ExtractOptions = {},
): Promise<ExtractedPackage> {
  const limits = mergeLimits(options.limits);
  const { expectedId } = options;
  if (expectedId !== undefined && !appIdPattern.test(expectedId)) {
    throw packageError('INVALID_APP_ID', `invalid app id ${quote(expectedId)}: ${idRule}`);
  }
  const { format, size } = await sniff(archivePath);
  // Not inside the try: a folder that already exists is not ours to remove.
  await mkdir(target, { mode: 0o755 });
  const unpacker = new Unpacker(target, size, limits, expectedId);
  try {
    await chmod(target, 0o755); // the mode asked for, whatever the umask
    if (format === 'zip') await readZip(unpacker, archivePath);
    else await readTar(unpacker, archivePath, format === 'tar.gz');
    return unpacker.finish();
  } catch (error) {
    await rm(target, { recursive: true, force: true });
    throw unpacker.explain(error);
  }
}

function mergeLimits(overrides: Partial<PackageLimits> = {}): PackageLimits {
  const limits = { ...defaultPackageLimits };
  for (const key of ['maxBytes', 'maxEntries', 'maxRatio'] as const) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!(value > 0)) throw new RangeError(`package limit ${key} must be a positive number`);
    limits[key] = value;
  }
  return limits;
}

type Format = 'zip' | 'tar.gz' | 'tar';

/** Tells the format from the first bytes; anything else is refused before `target` exists. */
async function sniff(archivePath: string): Promise<{ format: Format; size: number }> {
  // Checked before opening: opening a FIFO would wait for a writer.
  const info = await stat(archivePath);
  if (!info.isFile()) throw invalid('the package is not a regular file');
  const { size } = info;
  if (size === 0) throw invalid('the package file is empty');
  const handle = await open(archivePath, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    // A local file header, or the end record alone (an empty zip, refused later with that reason).
    if (head.readUInt32BE(0) === 0x504b0304 || head.readUInt32BE(0) === 0x504b0506) {
      return { format: 'zip', size };
    }
    if (head[0] === 0x1f && head[1] === 0x8b) return { format: 'tar.gz', size };
    if (bytesRead === 512 && head.toString('latin1', 257, 262) === 'ustar') {
      return { format: 'tar', size };
    }
    throw invalid('the package is not a zip, tar.gz or tar archive');
  } finally {
    await handle.close();
  }
}

type Kind = 'file' | 'dir' | 'symlink';

/**
 * Creates the entries of one archive inside the target folder and keeps the books: what exists
 * at each path (so nothing is ever written through a symlink or over an earlier entry), the
 * symlinks (checked again once the whole archive is known), and the counts the limits apply to.
 * The readers feed it one entry at a time, in archive order.
 */
class Unpacker {
  readonly #root: string;
  readonly #archiveSize: number;
  readonly #limits: PackageLimits;
  readonly #expectedId: string | undefined;
  /** Paths relative to the package folder, `/`-joined. */
  readonly #kinds = new Map<string, Kind>();
  readonly #links = new Map<string, string>();
  #id: string | undefined;
  #entries = 0;
  #bytes = 0;
  /** Decompressed bytes of a tar stream: headers, padding and skipped data cost work too. */
  #streamBytes = 0;
  #lastName = '';

  constructor(
    root: string,
    archiveSize: number,
    limits: PackageLimits,
    expectedId: string | undefined,
  ) {
    this.#root = root;
    this.#archiveSize = archiveSize;
    this.#limits = limits;
    this.#expectedId = expectedId;
  }

  async addDir(name: string): Promise<void> {
    const rest = this.#begin(name, 'dir');
    if (rest.length === 0) return; // the top folder itself: that is the target
    const key = await this.#prepare(name, rest, 'dir');
    if (this.#kinds.get(key) === 'dir') return; // repeated, or created earlier for a child
    await this.#mkdir(key);
  }

  /** Writes a file from `chunks`, pulling the next chunk only once the last one is written. */
  async addFile(name: string, mode: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    const rest = this.#begin(name, 'file');
    const key = await this.#prepare(name, rest, 'file');
    const fileMode = (mode & 0o111) !== 0 ? 0o755 : 0o644;
    // 'wx' fails on anything already there, a symlink included: never written through.
    const handle = await open(join(this.#root, key), 'wx', fileMode);
    this.#kinds.set(key, 'file');
    try {
      await handle.chmod(fileMode);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const count = (n: number): void => {
      this.#countBytes(n, name);
    };
    // Counted before it is written: a limit stops the write at the chunk that passes it.
    await pipeline(async function* () {
      for await (const chunk of chunks) {
        count(chunk.length);
        yield chunk;
      }
    }, handle.createWriteStream());
  }

  async addSymlink(name: string, linkTarget: string): Promise<void> {
    const rest = this.#begin(name, 'symlink');
    checkLinkText(name, linkTarget, 'symlink');
    if (linkTarget.startsWith('/')) {
      throw invalid(`absolute symlink target: ${quote(name)} -> ${quote(linkTarget)}`);
    }
    const key = await this.#prepare(name, rest, 'symlink');
    this.#checkLink(name, rest.slice(0, -1), linkTarget);
    await symlink(linkTarget, join(this.#root, key));
    this.#kinds.set(key, 'symlink');
    this.#links.set(key, linkTarget);
  }

  /** A tar hard link: `linkPath` names an earlier entry, from the archive's root. */
  async addHardlink(name: string, linkPath: string): Promise<void> {
    const rest = this.#begin(name, 'file');
    checkLinkText(name, linkPath, 'hard link');
    let source: string[];
    try {
      source = splitName(linkPath);
    } catch {
      throw invalid(`hard link leads out of the package: ${quote(name)} -> ${quote(linkPath)}`);
    }
    if (source[0] !== this.#id || source.length < 2) {
      throw invalid(`hard link leads out of the package: ${quote(name)} -> ${quote(linkPath)}`);
    }
    const sourceKey = source.slice(1).join('/');
    if (this.#kinds.get(sourceKey) !== 'file') {
      throw invalid(`hard link to a missing entry: ${quote(name)} -> ${quote(linkPath)}`);
    }
    const key = await this.#prepare(name, rest, 'file');
    await link(join(this.#root, sourceKey), join(this.#root, key));
    this.#kinds.set(key, 'file');
  }

  /** Counts decompressed archive bytes that are not file content (tar headers, padding...). */
  countStream(n: number): void {
    this.#streamBytes += n;
    this.#checkLimits(this.#streamBytes, this.#lastName);
  }

  /** Refuses an archive whose own index announces more entries than the limit. */
  checkAnnouncedEntries(count: number): void {
    if (count > this.#limits.maxEntries) {
      throw invalid(`the package has more than ${this.#limits.maxEntries} entries (${count})`);
    }
  }

  /** Ends the extraction: the archive had content, and every symlink stays inside after all. */
  finish(): ExtractedPackage {
    if (this.#id === undefined) throw invalid('the archive is empty');
    // A link checked on arrival may lead out through a symlink the archive created later
    // (`y -> x/up/..` before `x/up -> ..`): check them all again with the whole archive known.
    for (const [key, linkTarget] of this.#links) {
      this.#checkLink(`${this.#id}/${key}`, key.split('/').slice(0, -1), linkTarget);
    }
    return { id: this.#id, entries: this.#entries, bytes: this.#bytes };
  }

  /** A name the file system cannot take is the package's fault: say which entry it was. */
  explain(error: unknown): unknown {
    if (error instanceof Error && 'code' in error && error.code === 'ENAMETOOLONG') {
      return invalid(`entry name too long: ${quote(this.#lastName)}`);
    }
    return error;
  }

  /**
   * Refuses an entry whose declared size alone passes a limit, before anything is written. The
   * declaration is trusted only to refuse: the bytes written are counted as well.
   */
  checkDeclared(size: number, name: string): void {
    this.#checkLimits(this.#bytes + size, name);
  }

  #countBytes(n: number, name: string): void {
    this.#bytes += n;
    this.#checkLimits(this.#bytes, name);
  }

  #checkLimits(total: number, name: string): void {
    const { maxBytes, maxRatio } = this.#limits;
    const at = name === '' ? '' : ` (at ${quote(name)})`;
    if (total > maxBytes) {
      throw invalid(`the package unpacks to more than ${maxBytes} bytes${at}`);
    }
    // Small packages may compress very well (text, padding): the ratio matters only for sizes
    // that could hurt.
    if (total > ratioFloor && total > maxRatio * this.#archiveSize) {
      throw invalid(`the package unpacks to more than ${maxRatio} times its size${at}`);
    }
  }

  /**
   * Counts the entry and checks its name and place: returns its path inside the top folder
   * (empty for the top folder itself). The first entry fixes the top folder, hence the id.
   */
  #begin(name: string, kind: Kind): string[] {
    this.#lastName = name;
    this.#entries += 1;
    if (this.#entries > this.#limits.maxEntries) {
      throw invalid(
        `the package has more than ${this.#limits.maxEntries} entries (at ${quote(name)})`,
      );
    }
    const segments = splitName(name);
    const [top, ...rest] = segments;
    if (top === undefined) {
      if (kind === 'dir') return []; // `./`: the archive's root, nothing to create
      throw invalid(`entry without a name: ${quote(name)}`);
    }
    if (rest.length === 0 && kind !== 'dir') {
      throw invalid(`a ${kind} at the top level (a package has one top folder): ${quote(name)}`);
    }
    if (this.#id === undefined) {
      if (this.#expectedId !== undefined && top !== this.#expectedId) {
        throw invalid(
          `the top folder ${quote(top)} is not the app id ${quote(this.#expectedId)} (entry ${quote(name)})`,
        );
      }
      if (!appIdPattern.test(top)) {
        throw packageError(
          'INVALID_APP_ID',
          `invalid app id ${quote(top)} (the package's top folder): ${idRule}`,
        );
      }
      this.#id = top;
    } else if (top !== this.#id) {
      throw invalid(
        `more than one top folder: ${quote(this.#id)} and ${quote(top)} (entry ${quote(name)})`,
      );
    }
    return rest;
  }

  /**
   * Makes sure every parent of the entry is a folder this archive created (creating missing
   * ones) and that the entry does not clash with an earlier one. Returns the entry's key.
   */
  async #prepare(name: string, rest: string[], kind: Kind): Promise<string> {
    for (let i = 1; i < rest.length; i += 1) {
      const parent = rest.slice(0, i).join('/');
      const parentKind = this.#kinds.get(parent);
      if (parentKind === undefined) await this.#mkdir(parent);
      else if (parentKind !== 'dir') {
        throw invalid(
          `entry ${quote(name)} lies inside a ${parentKind === 'symlink' ? 'symlink' : 'file'} (${quote(`${this.#id ?? ''}/${parent}`)})`,
        );
      }
    }
    const key = rest.join('/');
    const existing = this.#kinds.get(key);
    if (existing !== undefined && !(existing === 'dir' && kind === 'dir')) {
      throw invalid(
        existing === kind
          ? `duplicate entry: ${quote(name)}`
          : `entry ${quote(name)} would turn a ${existing} into a ${kind}`,
      );
    }
    return key;
  }

  async #mkdir(key: string): Promise<void> {
    const path = join(this.#root, key);
    await mkdir(path, { mode: 0o755 }); // fails on anything already there
    this.#kinds.set(key, 'dir');
    await chmod(path, 0o755);
  }

  /**
   * Refuses a symlink in the folder `from` (inside the package) when following `linkTarget`
   * leaves the package or loops: resolved the way the kernel would, through the symlinks this
   * archive has created so far.
   */
  #checkLink(name: string, from: string[], linkTarget: string): void {
    const current = [...from];
    const pending = linkTarget.split('/').reverse();
    let hops = 0;
    while (pending.length > 0) {
      const segment = pending.pop()!;
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (current.length === 0) {
          throw invalid(`symlink leads out of the package: ${quote(name)} -> ${quote(linkTarget)}`);
        }
        current.pop();
        continue;
      }
      current.push(segment);
      const next = this.#links.get(current.join('/'));
      if (next === undefined) continue;
      hops += 1;
      if (hops > maxLinkHops) {
        throw invalid(`symlink loop: ${quote(name)} -> ${quote(linkTarget)}`);
      }
      // Only links checked on arrival are in the map, so none is absolute.
      current.pop();
      pending.push(...next.split('/').reverse());
    }
  }
}

/**
 * Splits an entry name into its segments, dropping empty and `.` ones (`./app/x`, `app//x`,
 * a folder's trailing slash); refuses what could point anywhere but below the archive's root.
 */
function splitName(name: string): string[] {
  if (name.includes('\0')) throw invalid(`entry name with a NUL byte: ${quote(name)}`);
  if (name.includes('\\')) throw invalid(`entry name with a backslash: ${quote(name)}`);
  if (name.startsWith('/')) throw invalid(`absolute entry name: ${quote(name)}`);
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw invalid(`entry name with a '..' segment: ${quote(name)}`);
  return segments;
}

function checkLinkText(name: string, text: string, what: string): void {
  if (text === '' || text.includes('\0') || text.includes('\\')) {
    throw invalid(`invalid ${what} target: ${quote(name)} -> ${quote(text)}`);
  }
}

/** A name for a message: quoted, control characters escaped, very long names shortened. */
function quote(name: string): string {
  let text = '';
  for (const char of name.length > 200 ? `${name.slice(0, 200)}…` : name) {
    const code = char.charCodeAt(0);
    text += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  }
  return `"${text}"`;
}

/** True for an error of the system (the file system, a read), as opposed to the archive's. */
function isSystemError(error: unknown): boolean {
  return error instanceof Error && 'syscall' in error;
}

function isPackageError(error: unknown): boolean {
  return error instanceof AppvisorError;
}

// ---------------------------------------------------------------------------------------------
// zip

async function readZip(unpacker: Unpacker, archivePath: string): Promise<void> {
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

function ignoreError(): void {
  // for a promise whose rejection is handled elsewhere
}

function zipError(error: unknown, name?: string): unknown {
  if (isPackageError(error) || isSystemError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return invalid(`invalid zip archive: ${name === undefined ? '' : `${quote(name)}: `}${message}`);
}

// ---------------------------------------------------------------------------------------------
// tar

/**
 * Feeds the (gunzipped) file to node-tar's parser and unpacks its entries one at a time, in a
 * promise chain: the parser hands out the next entry only once the current one has been read,
 * and reading a file's data waits for the disk, so backpressure reaches the file read stream.
 */
async function readTar(unpacker: Unpacker, archivePath: string, gzip: boolean): Promise<void> {
  // strict: every warning (bad checksum, truncation, unknown format) becomes an error.
  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  const abort = new AbortController();
  const state: {
    failure?: Error;
    /** The entry being unpacked. */
    current?: ReadEntry;
    /** Two zero blocks were seen: the parser reads nothing after them. */
    reachedEof: boolean;
    /** The last thing seen was a zero block, not an entry: the archive was not cut short. */
    endMarker: boolean;
  } = { reachedEof: false, endMarker: false };
  let chain = Promise.resolve();

  const fail = (error: unknown): void => {
    if (state.failure !== undefined) return;
    state.failure = error instanceof Error ? error : new Error(String(error));
    abort.abort();
    // An entry waiting for data that will never come is ended, so the chain settles. Not at
    // once: the failure may be reported from inside the parser, which may still write to it.
    const stuck = state.current;
    queueMicrotask(() => stuck?.end());
  };
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
    state.endMarker = true;
  });
  parser.on('eof', () => {
    state.endMarker = true;
    state.reachedEof = true;
  });
  parser.on('entry', (entry: ReadEntry) => {
    state.endMarker = false;
    chain = chain.then(async () => {
      if (state.failure !== undefined) {
        entry.resume();
        return;
      }
      state.current = entry;
      try {
        await unpackTarEntry(unpacker, entry);
      } catch (error) {
        fail(error);
        entry.resume();
      } finally {
        state.current = undefined;
      }
    });
  });

  // pipeline passes its own signal, aborted when another stage fails (a corrupt gzip).
  const feed = async (
    source: AsyncIterable<Buffer>,
    options?: { signal?: AbortSignal },
  ): Promise<void> => {
    const signal = options?.signal ? AbortSignal.any([abort.signal, options.signal]) : abort.signal;
    try {
      for await (const chunk of source) {
        if (state.failure !== undefined) return;
        unpacker.countStream(chunk.length);
        // After the end marker the rest is read (a gzip checksum checked, the bytes counted
        // against the limits) but not parsed: node-tar would only keep it in memory.
        if (state.reachedEof) continue;
        if (!parser.write(chunk)) await once(parser, 'drain', { signal });
      }
      const ended = once(parser, 'end', { signal });
      ended.catch(ignoreError); // awaited below, unless end() throws
      parser.end();
      await ended;
    } catch (error) {
      // Recorded here: pipeline may report the AbortError of a stage it tore down instead.
      if (isPackageError(error)) fail(error);
      throw error;
    }
  };
  try {
    // Larger chunks than the defaults (64 KiB, 16 KiB): each one is a round trip to the disk.
    const input = createReadStream(archivePath, { highWaterMark: chunkSize });
    if (gzip) await pipeline(input, createGunzip({ chunkSize }), feed, { signal: abort.signal });
    else await pipeline(input, feed, { signal: abort.signal });
  } catch (error) {
    fail(
      isPackageError(error) || isSystemError(error)
        ? error
        : invalid(`invalid tar archive: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
  await chain;
  if (state.failure === undefined && !state.endMarker) {
    state.failure = invalid('invalid tar archive: truncated (no end-of-archive marker)');
  }
  if (state.failure !== undefined) throw state.failure;
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
