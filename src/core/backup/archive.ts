/**
 * The backup archive: a tar of `manifest.json`, `db.sql.gz` (the plain dump, gzipped) and
 * `files.tar` (the instance's folder), optionally wrapped in passphrase encryption
 * (src/lib/stream-cipher.ts). The manifest records each member's size and SHA-256, so damage
 * is found before anything is restored. This file writes archives; archive-read.ts reads them.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, lstat, mkdir, mkdtemp, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { syncFolder } from '../../lib/atomic-write.js';
import { packFolder } from '../../lib/folder-tar.js';
import { createEncryptStream } from '../../lib/stream-cipher.js';
import { InPlaceTar, tarBlock, type MemberPlace } from '../../lib/tar-in-place.js';
import { AppvisorError } from '../errors/index.js';
import { RowCounter } from './dump-script.js';
import { noProgress, type ProgressTracker } from './progress.js';

/** Version of the archive layout; a restore refuses others. */
export const archiveFormat = 1;

/** One member's size and digest. */
export interface MemberDigest {
  size: number;
  sha256: string;
}

/** `manifest.json`. */
export interface BackupManifest {
  format: number;
  app: { id: string; version: string };
  instance: {
    id: string;
    domain: string;
    path: string;
    enabled: boolean;
    excludeFromBackup: boolean;
    traceFlags: string[];
  };
  createdAt: string;
  /** Seconds the backup took. */
  seconds: number;
  members: { 'db.sql.gz': MemberDigest; 'files.tar': MemberDigest };
  /** Bytes of the plain dump before gzip. */
  dumpBytes: number;
  /**
   * Rows of each table in the dump's snapshot (its COPY blocks), named as the dump names them
   * (`public.items`): what `verify` compares a restore with. Absent in older archives.
   */
  tables?: Record<string, number>;
}

/** The members of an archive, in the order they are written. */
export const memberNames = ['manifest.json', 'db.sql.gz', 'files.tar'] as const;

/** A pass-through that hashes and counts what goes by. */
export class Digest extends Transform {
  readonly #hash: Hash | undefined;
  size = 0;
  /** `hash: false` only counts (the plain dump's size; hashing it would cost a pass). */
  constructor(hash = true) {
    super();
    this.#hash = hash ? createHash('sha256') : undefined;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash?.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }
  result(): MemberDigest {
    return { size: this.size, sha256: this.#hash?.digest('hex') ?? '' };
  }
}

/** Writes to `path` (counted by `counter`) and fsyncs before the stream finishes. */
async function writeSynced(source: Readable, path: string, counter: Digest): Promise<void> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  await pipeline(source, counter, out);
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** What {@link writeArchive} needs. */
export interface ArchiveInput {
  /** The plain SQL dump, streamed. */
  dump: Readable;
  /** The instance's folder; its content goes to `files.tar`. */
  dataDir: string;
  /** The manifest without members, sizes and time taken. */
  manifest: Omit<BackupManifest, 'members' | 'dumpBytes' | 'seconds' | 'format' | 'tables'>;
  /** A folder on the target's filesystem for work files; removed parts are cleaned by the caller. */
  workDir: string;
  /**
   * The final file; it appears complete or not at all. Unless `replace`, an existing file is
   * never replaced: the archive gets the first free name of `path`, `<name>-2.<ext>`, `-3` ...
   */
  path: string;
  /** Replace a file at `path` (a rolling slot, `#bn`). */
  replace?: boolean;
  passphrase?: string | undefined;
  /**
   * Where the archive goes instead of `path` (a remote target): given the archive's stream, it
   * resolves once the archive is stored whole and rejects leaving nothing stored. `path` is
   * then only the name answered.
   */
  upload?: (archive: Readable) => Promise<void>;
  /** Told each phase (`database`, `files`, `archive`) and its bytes. */
  progress?: ProgressTracker;
}

/** What {@link writeArchive} wrote. */
export interface WrittenArchive {
  manifest: BackupManifest;
  /** Where the archive is: `path`, or the numbered name it got when `path` was taken. */
  path: string;
  /** Bytes of the archive. */
  size: number;
}

/** Streams `archive` to `upload`, counting it; the upload's error is the one thrown. */
async function uploaded(
  archive: Readable,
  upload: (archive: Readable) => Promise<void>,
  counted: Digest,
): Promise<number> {
  const [sent, stored] = await Promise.allSettled([pipeline(archive, counted), upload(counted)]);
  if (stored.status === 'rejected') throw stored.reason;
  if (sent.status === 'rejected') throw sent.reason;
  return counted.size;
}

/** Numbered names tried after a taken one, at most (`-2` to `-1000`). */
const maxNumbered = 1000;

/** `name.tar` → `name-2.tar`: the number before the last extension (or at the end). */
export function numberedName(path: string, n: number): string {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  const numbered = dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
  return join(dirname(path), numbered);
}

/** Errors of a file system that has no hard links. */
const noLinks = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Gives the finished `partial` the name `path` unless a file has it: one atomic step that fails
 * when the name exists (a hard link; where the file system has none, an exclusive create of the
 * name then a rename over it), so two writers can never take the same name. Answers false when
 * the name is taken (`partial` stays).
 */
export async function takeName(partial: string, path: string): Promise<boolean> {
  try {
    try {
      await link(partial, path);
    } catch (error) {
      if (!noLinks.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      await (await open(path, 'wx', 0o600)).close();
      await rename(partial, path);
      return true;
    }
    await unlink(partial);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Gives the finished `partial` the name `path` (replacing it when `replace`) or, when that is
 * taken, the first free numbered name (see {@link takeName}).
 */
async function publish(partial: string, path: string, replace: boolean): Promise<string> {
  if (replace) {
    await rename(partial, path);
    return path;
  }
  for (let n = 1; n <= maxNumbered; n++) {
    const candidate = n === 1 ? path : numberedName(path, n);
    if (await takeName(partial, candidate)) return candidate;
  }
  throw new AppvisorError(
    'BACKUP_FAILED',
    `${path} and its numbered names up to -${maxNumbered} exist already`,
  );
}

/**
 * Bytes reserved for `manifest.json` at the archive's start, its header block included: the
 * manifest is written there once the members after it are known, padded with spaces (JSON
 * ignores them), so the members are written once, in place. 64 KiB holds the manifest of a
 * database of about 2,000 tables; a larger one is placed by a copy (see {@link relocated}).
 * It stays well inside the head a remote listing reads (remote-jobs.ts).
 */
const manifestSpace = 64 * 1024 - tarBlock;

/** The manifest's text, padded with spaces to `space` bytes; null when it does not fit. */
export function manifestBytes(manifest: BackupManifest, space?: number): Buffer | null {
  const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  if (space === undefined) return text;
  if (text.length > space) return null;
  const padded = Buffer.alloc(space, ' ');
  text.copy(padded, 0);
  padded[space - 1] = 0x0a;
  return padded;
}

/**
 * The rare archive whose manifest outgrew its reserved space: a new tar at `to` with the
 * manifest at its exact size and the members copied from `from` (a second pass, for this case
 * only). Answers the new file's size.
 */
async function relocated(
  from: string,
  places: { name: string; place: MemberPlace }[],
  manifest: Buffer,
  to: string,
  sync: boolean,
): Promise<number> {
  const tar = await InPlaceTar.create(to);
  try {
    const write = tar.reserve('manifest.json', manifest.length);
    await write(manifest);
    for (const { name, place } of places) {
      await tar.append(name, (out) =>
        pipeline(
          place.size === 0
            ? Readable.from([])
            : createReadStream(from, { start: place.offset, end: place.offset + place.size - 1 }),
          out,
        ),
      );
    }
    return await tar.finish(sync);
  } finally {
    await tar.close();
  }
}

/**
 * Writes a backup archive in one pass: the tar's members written in place as they are made
 * (the dump gzipped, the folder packed, each hashed on the way), the manifest then written into
 * the space reserved for it at the start. A plain archive is written so at a temporary name,
 * fsynced and given its name (see {@link ArchiveInput.path}); an encrypted or uploaded one is
 * that tar streamed through the cipher to its temporary name or to the target. A crash or error
 * leaves nothing under its name and the work folder to be removed.
 */
export async function writeArchive(input: ArchiveInput): Promise<WrittenArchive> {
  const started = Date.now();
  await mkdir(input.workDir, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(input.workDir, 'backup-'));
  try {
    // The plain tar is the archive itself unless it is encrypted or uploaded: only then is it
    // read again (through the cipher, or to the target), and only then need it not be durable.
    const direct = !input.passphrase && !input.upload;
    let partial = join(work, 'archive.partial');
    const progress = input.progress ?? noProgress;
    const tar = await InPlaceTar.create(partial);
    let manifest: BackupManifest;
    let tarSize: number;
    try {
      const writeManifest = tar.reserve('manifest.json', manifestSpace);
      const plain = new Digest(false);
      const rows = new RowCounter();
      const packed = new Digest();
      await progress.phase('database', () => plain.size);
      // Level 1: several times faster than the default 6 on dump text, for archives a little
      // larger; a backup's time matters more than the last percent of its size.
      const dumpPlace = await tar.append('db.sql.gz', (out) =>
        pipeline(input.dump, plain, rows, createGzip({ level: 1 }), packed, out),
      );

      const filesDigest = new Digest();
      await progress.phase('files', () => filesDigest.size);
      // The folder is the app's user's, who may plant links or swap entries while it is read:
      // read without following any, as root or not (lib/folder-tar.ts). A missing folder is an
      // empty one.
      const missing = await lstat(input.dataDir).then(
        () => false,
        (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT',
      );
      const filesPlace = await tar.append('files.tar', (out) =>
        pipeline(
          missing ? Readable.from([Buffer.alloc(1024)]) : packFolder(input.dataDir),
          filesDigest,
          out,
        ),
      );

      manifest = {
        format: archiveFormat,
        ...input.manifest,
        seconds: 0,
        members: { 'db.sql.gz': packed.result(), 'files.tar': filesDigest.result() },
        dumpBytes: plain.size,
        tables: rows.tables,
      };
      manifest.seconds = Math.round((Date.now() - started) / 100) / 10;
      const fitted = manifestBytes(manifest, manifestSpace);
      if (fitted) {
        await writeManifest(fitted);
        tarSize = await tar.finish(direct);
      } else {
        await tar.close();
        const moved = join(work, 'archive-2.partial');
        tarSize = await relocated(
          partial,
          [
            { name: 'db.sql.gz', place: dumpPlace },
            { name: 'files.tar', place: filesPlace },
          ],
          manifestBytes(manifest)!,
          moved,
          direct,
        );
        await rm(partial, { force: true });
        partial = moved;
      }
    } finally {
      await tar.close();
    }

    if (!direct) {
      const plainTar = createReadStream(partial);
      const archive = input.passphrase
        ? plainTar.pipe(createEncryptStream(input.passphrase))
        : plainTar;
      if (input.passphrase) plainTar.on('error', (error) => archive.destroy(error));
      const written = new Digest(false);
      await progress.phase('archive', () => written.size, tarSize);
      if (input.upload) {
        return { manifest, path: input.path, size: await uploaded(archive, input.upload, written) };
      }
      partial = join(work, 'archive.encrypted.partial');
      await writeSynced(archive, partial, written);
    }
    await mkdir(dirname(input.path), { recursive: true, mode: 0o750 });
    const path = await publish(partial, input.path, input.replace ?? false);
    await syncFolder(dirname(path));
    return { manifest, path, size: (await stat(path)).size };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
