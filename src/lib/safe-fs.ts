/**
 * File operations that never follow a symbolic link an untrusted user planted, and cannot be
 * turned by one swapped in while they run: what the manager, as root, does inside folders an
 * app's user can write (its data folder, its instance folders, its socket folder).
 *
 * The contract: the folder given as `path` may be a name the untrusted user controls (its last
 * component may be swapped for a link at any time), but every folder above it must be one only
 * the caller can change. Inside an opened folder every step goes through the folder's open
 * descriptor (`/proc/self/fd/N/name`, Linux's way to say openat/unlinkat/fchownat from Node),
 * with the last component never followed, so renaming or swapping entries while we walk can
 * only make a step fail or act on the entry the user put there, never on a target elsewhere.
 */
import { constants } from 'node:fs';
import {
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rmdir,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';

/** Flags that open a folder and refuse a symbolic link in its place. */
const folderFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Flags that open a regular file for reading and refuse a link (and never block on a FIFO). */
const fileFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Deeper folders than this are moved up before they are walked (bounded open descriptors). */
const maxDepth = 32;

/** Thrown when a path that must be a real folder is a link or something else. */
export class NotAFolderError extends Error {
  readonly code = 'ENOTDIR';
  constructor(readonly path: string) {
    super(`${path} is not a folder (a symbolic link or another kind of file is in its place)`);
    this.name = 'NotAFolderError';
  }
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/**
 * Opens `path` as a folder; a symbolic link (or anything else) in its place is refused with
 * {@link NotAFolderError}. The handle is the folder itself, whatever its name becomes later.
 */
export async function openFolder(path: string): Promise<FileHandle> {
  try {
    return await open(path, folderFlags);
  } catch (error) {
    if (errno(error) === 'ELOOP' || errno(error) === 'ENOTDIR') throw new NotAFolderError(path);
    throw error;
  }
}

/** A path to `name` inside an opened folder, resolved through its descriptor (Linux /proc). */
export function inFolder(folder: FileHandle, name = ''): string {
  return name === '' ? `/proc/self/fd/${folder.fd}` : `/proc/self/fd/${folder.fd}/${name}`;
}

/**
 * Makes sure `path` is a real folder with `mode` and, when given, `owner`: made when missing,
 * then opened without following a link and changed through that descriptor (fchmod/fchown).
 * A link or a file in its place is refused with {@link NotAFolderError}, its target untouched.
 */
export async function ensureFolder(
  path: string,
  mode: number,
  owner?: { uid: number; gid: number } | null,
): Promise<void> {
  await mkdir(path, { mode }).catch((error: unknown) => {
    if (errno(error) !== 'EEXIST') throw error;
  });
  const handle = await openFolder(path);
  try {
    await handle.chmod(mode);
    if (owner) await handle.chown(owner.uid, owner.gid);
  } finally {
    await handle.close();
  }
}

/**
 * Gives a folder and everything in it to `uid:gid` without following any link: folders are
 * opened with O_NOFOLLOW and walked through their descriptors, every entry is changed with
 * lchown (a link itself, never its target). A folder swapped for a link mid-walk is skipped.
 */
export async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  const handle = await openFolder(path);
  try {
    await chownInside(handle, uid, gid, 0);
    await handle.chown(uid, gid);
  } finally {
    await handle.close();
  }
}

async function chownInside(
  folder: FileHandle,
  uid: number,
  gid: number,
  depth: number,
): Promise<void> {
  for (const name of await readdir(inFolder(folder))) {
    const path = inFolder(folder, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) {
      if (depth >= 4096) throw new Error('folders nested too deep to walk');
      const child = await openFolder(path).catch(() => undefined);
      if (child) {
        try {
          await chownInside(child, uid, gid, depth + 1);
          await child.chown(uid, gid);
        } finally {
          await child.close();
        }
        continue;
      }
    }
    await lchown(path, uid, gid).catch((error: unknown) => {
      if (errno(error) !== 'ENOENT') throw error;
    });
  }
}

/**
 * Removes `path` and everything in it without ever following a link: a link in its place is
 * removed itself; folders are opened with O_NOFOLLOW and emptied through their descriptors;
 * folders nested deeper than a bound are first moved up to the top one, so the number of open
 * descriptors stays bounded however deep the tree is. Entries added while it runs are removed
 * too, for a few rounds; a tree that keeps growing is an error. A missing path is fine.
 */
export async function removeTree(path: string): Promise<void> {
  const info = await lstat(path).catch((error: unknown) => {
    if (errno(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (!info) return;
  if (!info.isDirectory()) {
    await unlinkQuiet(path);
    return;
  }
  const handle = await openFolder(path).catch((error: unknown) => {
    if (error instanceof NotAFolderError) return undefined;
    throw error;
  });
  if (!handle) {
    // Swapped for a link (or a file) after the lstat: that entry itself goes.
    await unlinkQuiet(path);
    return;
  }
  try {
    await emptyFolder(handle);
  } finally {
    await handle.close();
  }
  await rmdir(path).catch(async (error: unknown) => {
    if (errno(error) === 'ENOENT') return;
    if (errno(error) === 'ENOTDIR') await unlinkQuiet(path);
    else throw error;
  });
}

/**
 * Empties an opened folder (see {@link removeTree}) except for the top-level entries named in
 * `keep`; the folder itself stays.
 */
export async function emptyFolder(
  top: FileHandle,
  keep: ReadonlySet<string> = new Set(),
): Promise<void> {
  const left = async () => (await readdir(inFolder(top))).filter((name) => !keep.has(name));
  // Each round walks at most maxDepth levels down and moves deeper folders up: 256 rounds
  // remove trees 8192 levels deep, and bound the work when the owner keeps adding entries.
  for (let round = 0; round < 256; round++) {
    const names = await left();
    if (names.length === 0) return;
    for (const name of names) await removeEntry(top, top, name, 0);
  }
  if ((await left()).length > 0) throw new Error('a folder kept filling while it was removed');
}

async function removeEntry(
  top: FileHandle,
  parent: FileHandle,
  name: string,
  depth: number,
): Promise<void> {
  const path = inFolder(parent, name);
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) {
    await unlinkQuiet(path);
    return;
  }
  if (depth >= maxDepth) {
    // Moved up beside the top's entries: the next round of emptyFolder walks it from there.
    await rename(path, inFolder(top, `.deep-${randomBytes(6).toString('hex')}`)).catch(
      (error: unknown) => {
        if (errno(error) !== 'ENOENT') throw error;
      },
    );
    return;
  }
  const child = await openFolder(path).catch(() => undefined);
  if (!child) {
    await unlinkQuiet(path);
    return;
  }
  try {
    for (const inner of await readdir(inFolder(child))) {
      await removeEntry(top, child, inner, depth + 1);
    }
  } finally {
    await child.close();
  }
  await rmdir(path).catch(async (error: unknown) => {
    const code = errno(error);
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return; // next round
    if (code === 'ENOTDIR') await unlinkQuiet(path);
    else throw error;
  });
}

async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch(async (error: unknown) => {
    const code = errno(error);
    if (code === 'ENOENT') return;
    // A folder swapped in after the lstat: removed as a tree (never followed).
    if (code === 'EISDIR' || code === 'EPERM') {
      const info = await lstat(path).catch(() => undefined);
      if (info?.isDirectory()) {
        await removeTree(path);
        return;
      }
    }
    throw error;
  });
}

/** One entry met by {@link walkFolder}: its path below the top, what lstat said, how to read it. */
export interface WalkEntry {
  /** Relative to the top, `/`-separated, without a leading `./`. */
  path: string;
  info: Stats;
  /** For a symbolic link: where it points (never followed). */
  linkTarget?: string;
  /**
   * For a regular file: opens it without following a link, checked to be the very file the
   * walk saw (same device and inode); undefined when it changed in between.
   */
  openFile?: () => Promise<FileHandle | undefined>;
}

/**
 * Walks a folder tree without following links, depth first, a folder before its content, the
 * top folder itself first (path ''): every folder is opened with O_NOFOLLOW and read through
 * its descriptor, so a folder swapped for a link mid-walk is skipped, never entered. The
 * descriptors stay open while an entry is handled (its `openFile` works until the next one).
 */
export async function* walkFolder(path: string): AsyncGenerator<WalkEntry> {
  const handle = await openFolder(path);
  try {
    yield { path: '', info: await handle.stat() };
    yield* walkInside(handle, '', 0);
  } finally {
    await handle.close();
  }
}

async function* walkInside(
  folder: FileHandle,
  prefix: string,
  depth: number,
): AsyncGenerator<WalkEntry> {
  const names = (await readdir(inFolder(folder))).sort();
  for (const name of names) {
    const path = inFolder(folder, name);
    const relative = `${prefix}${name}`;
    const info = await lstat(path).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) {
      if (depth >= 256) throw new Error(`${relative}: folders nested too deep`);
      const child = await openFolder(path).catch(() => undefined);
      if (!child) continue;
      try {
        const opened = await child.stat();
        if (opened.dev !== info.dev || opened.ino !== info.ino) continue;
        yield { path: relative, info: opened };
        yield* walkInside(child, `${relative}/`, depth + 1);
      } finally {
        await child.close();
      }
    } else if (info.isSymbolicLink()) {
      const linkTarget = await readlink(path).catch(() => undefined);
      if (linkTarget !== undefined) yield { path: relative, info, linkTarget };
    } else if (info.isFile()) {
      yield {
        path: relative,
        info,
        openFile: async () => {
          const file = await open(path, fileFlags).catch(() => undefined);
          if (!file) return undefined;
          const opened = await file.stat();
          if (opened.isFile() && opened.dev === info.dev && opened.ino === info.ino) return file;
          await file.close();
          return undefined;
        },
      };
    }
    // Sockets, FIFOs and devices are left out: they hold no data to keep.
  }
}
