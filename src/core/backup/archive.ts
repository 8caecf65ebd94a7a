/**
 * The backup archive: a tar of `manifest.json`, `db.sql.gz` (the plain dump, gzipped) and
 * `files.tar` (the instance's folder), optionally wrapped in passphrase encryption
 * (src/lib/stream-cipher.ts). The manifest records each member's size and SHA-256, so damage
 * is found before anything is restored. This file writes archives; archive-read.ts reads them.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  link,
  lstat,
  mkdir,
  mkdtemp,
  open,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { create as createTar } from 'tar';
import { syncFolder } from '../../lib/atomic-write.js';
import { packFolder } from '../../lib/folder-tar.js';
import { createEncryptStream } from '../../lib/stream-cipher.js';
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
 * Writes a backup archive: dump and files to work files (hashed on the way), then the tar
 * (encrypted when a passphrase is given) to a temporary name, fsynced, then given its name
 * (see {@link ArchiveInput.path}). A crash or error leaves nothing under its name and the
 * work folder to be removed.
 */
export async function writeArchive(input: ArchiveInput): Promise<WrittenArchive> {
  const started = Date.now();
  await mkdir(input.workDir, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(input.workDir, 'backup-'));
  try {
    const plain = new Digest(false);
    const rows = new RowCounter();
    const packed = new Digest();
    const progress = input.progress ?? noProgress;
    await progress.phase('database', () => plain.size);
    // Level 1: several times faster than the default 6 on dump text, for archives a little
    // larger; a backup's time matters more than the last percent of its size.
    await pipeline(
      input.dump,
      plain,
      rows,
      createGzip({ level: 1 }),
      packed,
      createWriteStream(join(work, 'db.sql.gz'), { mode: 0o600 }),
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
    await pipeline(
      missing ? Readable.from([Buffer.alloc(1024)]) : packFolder(input.dataDir),
      filesDigest,
      createWriteStream(join(work, 'files.tar'), { mode: 0o600 }),
    );

    const manifest: BackupManifest = {
      format: archiveFormat,
      ...input.manifest,
      seconds: 0,
      members: { 'db.sql.gz': packed.result(), 'files.tar': filesDigest.result() },
      dumpBytes: plain.size,
      tables: rows.tables,
    };
    manifest.seconds = Math.round((Date.now() - started) / 100) / 10;
    await writeFile(join(work, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {
      mode: 0o600,
    });

    const tarStream = createTar({ cwd: work, portable: true }, [
      ...memberNames,
    ]) as unknown as Readable;
    const archive = input.passphrase
      ? tarStream.pipe(createEncryptStream(input.passphrase))
      : tarStream;
    const written = new Digest(false);
    // The members and their tar headers: the archive's size, give or take its padding.
    await progress.phase(
      'archive',
      () => written.size,
      manifest.members['db.sql.gz'].size + manifest.members['files.tar'].size,
    );
    if (input.upload) {
      return { manifest, path: input.path, size: await uploaded(archive, input.upload, written) };
    }
    const partial = join(work, 'archive.partial');
    await writeSynced(archive, partial, written);
    await mkdir(dirname(input.path), { recursive: true, mode: 0o750 });
    const path = await publish(partial, input.path, input.replace ?? false);
    await syncFolder(dirname(path));
    return { manifest, path, size: (await stat(path)).size };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
