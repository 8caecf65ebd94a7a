/**
 * Archives as files that leave and enter the backup folder: opened for a download, received
 * from an upload. Both walk the archive's name inside the backup folder without following a
 * symbolic link (a link planted there never leads a download or an upload elsewhere), and take
 * only names a backup could have (relative, no `.`/`..`/hidden segment).
 */
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotAFolderError, inFolder, openFolder } from '../../lib/safe-fs.js';
import { hasControlChars } from '../../lib/text-escape.js';
import { diskFullError, diskSpace } from '../disk/index.js';
import { AppvisorError } from '../errors/index.js';
import { takeName } from './archive.js';
import { checkArchive } from './archive-read.js';
import type { BackupContext } from './context.js';
import { readEntry } from './listing.js';
import type { BackupEntry } from './model.js';

/** Opens a regular file for reading, refusing a link (and never blocking on a FIFO). */
const fileFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Free space an upload never goes below: the database server must still write its WAL. */
export const uploadMarginBytes = 64 * 1024 * 1024;

/** Bytes written between two looks at the free space during an upload. */
const spaceCheckBytes = 16 * 1024 * 1024;

/**
 * The segments of an archive's name as list shows it (`app/inst-0.tar`), or `BAD_REQUEST`
 * (field `file`) for a name no backup has: empty, absolute, with a backslash, a control
 * character, or an empty, `.`, `..` or hidden (`.work`, temporary files) segment.
 */
export function archiveSegments(file: string): string[] {
  const refuse = (why: string) =>
    new AppvisorError('BAD_REQUEST', `"${file.slice(0, 200)}" is not an archive name: ${why}`, {
      field: 'file',
    });
  if (file === '' || file.length > 4096) throw refuse('empty or too long');
  if (hasControlChars(file) || file.includes('\\')) throw refuse('a control character or \\');
  if (file.startsWith('/')) throw refuse('it must be relative to the backup folder');
  const segments = file.split('/');
  for (const segment of segments) {
    if (segment === '' || segment.startsWith('.')) {
      throw refuse('an empty, ".", ".." or hidden part');
    }
  }
  return segments;
}

/** The errors of a walk that met a link, a missing name or something else than a file. */
function notFound(file: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (error instanceof NotAFolderError || code === 'ELOOP' || code === 'ENOTDIR') {
    return new AppvisorError(
      'BACKUP_NOT_FOUND',
      `no archive ${file}: a symbolic link or another kind of file is in its way`,
      { cause: error },
    );
  }
  if (code === 'ENOENT') return new AppvisorError('BACKUP_NOT_FOUND', `no archive ${file}`);
  return error;
}

/**
 * Opens the folder holding the archive `segments` name, walking each folder below the backup
 * folder without following a link; `create` makes missing folders on the way.
 */
async function openParent(
  ctx: BackupContext,
  segments: readonly string[],
  create: boolean,
): Promise<FileHandle> {
  // The backup folder itself is the admin's (configured): it may be a link to another disk.
  let folder = await open(ctx.folder, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const segment of segments.slice(0, -1)) {
      if (create) {
        await mkdir(inFolder(folder, segment), { mode: 0o750 }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        });
      }
      const next = await openFolder(inFolder(folder, segment));
      await folder.close();
      folder = next;
    }
    return folder;
  } catch (error) {
    await folder.close();
    throw error;
  }
}

/** An archive opened for a download (see {@link openArchiveFile}). */
export interface OpenedArchive {
  file: string;
  size: number;
  modifiedAt: Date;
  /**
   * A strong validator of this file's content: its inode, size and modification time. A rolling
   * slot replaced by a new backup (a new file renamed over it) gets another one.
   */
  etag: string;
  /** The bytes `start` to `end` (inclusive; default: all); the file is closed after it. */
  read(range?: { start: number; end: number }): Readable;
  /** Closes the file when nothing is read (an error or HEAD). */
  close(): Promise<void>;
}

/**
 * Opens the archive `file` (a name as list shows it) in the backup folder: `BACKUP_NOT_FOUND`
 * when it is missing or a link (or a link is on the way), `BAD_REQUEST` for a name no archive
 * has. The file stays the one opened, whatever happens to its name while it is read.
 */
export async function openArchiveFile(ctx: BackupContext, file: string): Promise<OpenedArchive> {
  const segments = archiveSegments(file);
  let handle: FileHandle;
  try {
    const folder = await openParent(ctx, segments, false);
    try {
      handle = await open(inFolder(folder, segments.at(-1)), fileFlags);
    } finally {
      await folder.close();
    }
  } catch (error) {
    throw notFound(file, error);
  }
  const info = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!info.isFile()) {
    await handle.close();
    throw new AppvisorError('BACKUP_NOT_FOUND', `no archive ${file}: it is not a file`);
  }
  return {
    file,
    size: info.size,
    modifiedAt: info.mtime,
    etag: `"${info.ino.toString(36)}-${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`,
    read: (range) =>
      handle.createReadStream(
        range ? { start: range.start, end: range.end, autoClose: true } : { autoClose: true },
      ),
    close: () => handle.close(),
  };
}

/** What an upload is: its name, and the size the client announced (Content-Length). */
export interface UploadOptions {
  /** Bytes announced; refused at once when over the limit or the free space. */
  expectedBytes?: number | undefined;
}

/** Counts the bytes of an upload, stops it over the limit or when the disk gets full. */
function uploadGuard(ctx: BackupContext, file: string, maxBytes: number): Transform {
  let received = 0;
  let nextCheck = spaceCheckBytes;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (maxBytes > 0 && received > maxBytes) {
        callback(tooLarge(file, maxBytes));
        return;
      }
      if (received < nextCheck) {
        callback(null, chunk);
        return;
      }
      nextCheck = received + spaceCheckBytes;
      diskSpace(ctx.folder).then(
        (space) => {
          callback(
            space.freeBytes - chunk.length < uploadMarginBytes ? diskFull(file) : null,
            chunk,
          );
        },
        () => {
          callback(null, chunk);
        },
      );
    },
  });
}

function tooLarge(file: string, maxBytes: number): AppvisorError {
  return new AppvisorError(
    'BAD_REQUEST',
    `${file}: the upload is larger than backup.maxUploadBytes (${maxBytes} bytes)`,
    { status: 413 },
  );
}

function diskFull(file: string): AppvisorError {
  return new AppvisorError(
    'DISK_FULL',
    `uploading ${file}: it would leave less than ${uploadMarginBytes / 1024 / 1024} MiB free on the backup folder's disk`,
  );
}

/**
 * Receives an uploaded archive as `file` in the backup folder: streamed to a temporary file in
 * the work folder (at most `maxUploadBytes`, never leaving the disk nearly full), fsynced,
 * checked as a whole archive (checkArchive: a damaged or foreign file is `BACKUP_INVALID`; an
 * encrypted one by its layout only), then given its name, which it never takes from an
 * existing archive (`BACKUP_EXISTS`). Whatever fails or is cut off leaves nothing behind.
 */
export async function receiveArchive(
  ctx: BackupContext,
  file: string,
  source: Readable,
  options: UploadOptions = {},
): Promise<BackupEntry> {
  const segments = archiveSegments(file);
  const maxBytes = ctx.options.maxUploadBytes ?? 0;
  const expected = options.expectedBytes;
  if (expected !== undefined) {
    if (maxBytes > 0 && expected > maxBytes) throw tooLarge(file, maxBytes);
    const space = await diskSpace(ctx.folder);
    if (space.freeBytes - expected < uploadMarginBytes) throw diskFull(file);
  }
  // Said before the body is read, and again when the name is taken.
  await openArchiveFile(ctx, file).then(
    async (found) => {
      await found.close();
      throw exists(file);
    },
    (error: unknown) => {
      if (!(error instanceof AppvisorError) || error.code !== 'BACKUP_NOT_FOUND') throw error;
    },
  );
  await mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
  const temp = `${ctx.workDir}/upload-${randomBytes(6).toString('hex')}`;
  try {
    try {
      await pipeline(
        source,
        uploadGuard(ctx, file, maxBytes),
        createWriteStream(temp, { flags: 'wx', mode: 0o600 }),
      );
      const written = await open(temp, 'r');
      try {
        await written.sync();
      } finally {
        await written.close();
      }
    } catch (error) {
      throw diskFullError(error, `uploading ${file}`);
    }
    await checkArchive(temp).catch((error: unknown) => {
      // The message names the file by its name, not by the temporary one.
      if (error instanceof AppvisorError && error.code === 'BACKUP_INVALID') {
        throw new AppvisorError('BACKUP_INVALID', error.message.replace(temp, file));
      }
      throw error;
    });
    const folder = await openParent(ctx, segments, true).catch((error: unknown) => {
      throw notFound(file, error);
    });
    try {
      if (!(await takeName(temp, inFolder(folder, segments.at(-1))))) throw exists(file);
      await folder.sync();
    } finally {
      await folder.close();
    }
  } finally {
    await rm(temp, { force: true });
  }
  const entry = await readEntry(ctx, file);
  ctx.options.events.record({
    kind: 'backup.uploaded',
    severity: 'info',
    subject: entry.instance ?? file,
    text: `${file} uploaded (${entry.size} bytes)`,
  });
  return entry;
}

function exists(file: string): AppvisorError {
  return new AppvisorError('BACKUP_EXISTS', `an archive ${file} exists already`, {
    field: 'file',
  });
}
