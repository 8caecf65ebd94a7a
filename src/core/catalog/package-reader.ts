/**
 * Unpacks an app package archive (.zip, .tar.gz/.tgz or .tar) into a fresh folder, refusing
 * anything that could write outside that folder, smuggle in special files or exhaust the disk.
 *
 * Nothing here trusts the archive: names are checked before anything is created, links are
 * resolved against what the archive itself created, and sizes are counted on the bytes that
 * really come out of the decompressor, never taken from headers. On any refusal the target
 * folder is removed, so a caller sees either a complete, checked package or nothing.
 */
import { chmod, mkdir, open, rm, stat } from 'node:fs/promises';
import { appIdPattern } from './manifest.js';
import { idRule, invalid, packageError, quote } from './package-checks.js';
import { readTar } from './tar-reader.js';
import { Unpacker } from './unpacker.js';
import { readZip } from './zip-reader.js';

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
