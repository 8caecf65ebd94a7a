/**
 * The disk space a folder tree takes, as `du` counts it, measured by root inside a folder an
 * untrusted user can write (an instance's data folder): no link is ever followed, and the work
 * is bounded in entries, depth and time, so a folder its owner fills with millions of entries,
 * nests thousands deep or keeps changing costs a bounded walk and gives a lower bound.
 */
import { lstat, opendir } from 'node:fs/promises';
import { inFolder, openFolder } from './safe-fs.js';
import type { FileHandle } from 'node:fs/promises';

/** What {@link folderUsage} found. */
export interface FolderUsage {
  /** Allocated bytes (512-byte blocks) of every entry met, each inode once. */
  bytes: number;
  /** Entries met, the top folder included. */
  entries: number;
  /** False when a bound stopped the walk: `bytes` is then a lower bound. */
  complete: boolean;
}

/** Bounds of {@link folderUsage}. */
export interface FolderUsageLimits {
  /** Entries to look at, at most (default 1,000,000). */
  maxEntries?: number;
  /** Folder levels to enter below the top, at most (default 64: as many open descriptors). */
  maxDepth?: number;
  /** Epoch ms after which the walk stops (default: none). */
  deadline?: number;
}

interface Walk {
  usage: FolderUsage;
  /** Inodes with more than one link already counted (`dev:ino`). */
  seen: Set<string>;
  maxEntries: number;
  maxDepth: number;
  deadline: number;
}

/** Counts one entry; false when a bound is reached and the walk must stop. */
function count(walk: Walk, info: { blocks: number; nlink: number; dev: number; ino: number }) {
  if (walk.usage.entries >= walk.maxEntries || Date.now() > walk.deadline) {
    walk.usage.complete = false;
    return false;
  }
  walk.usage.entries++;
  if (info.nlink > 1) {
    const key = `${info.dev}:${info.ino}`;
    if (walk.seen.has(key)) return true;
    // Bounded by maxEntries like everything else here.
    walk.seen.add(key);
  }
  walk.usage.bytes += info.blocks * 512;
  return true;
}

/**
 * Measures the tree at `path` without following links: the top is opened with O_NOFOLLOW (a
 * link in its place is refused with NotAFolderError), every folder below is opened the same way
 * through its parent's descriptor and read as a stream, and every entry is lstat'ed, so a link
 * counts as the few bytes of the link itself and never as its target. An entry removed or
 * swapped while the walk runs is skipped. A file with several hard links counts once.
 */
export async function folderUsage(
  path: string,
  limits: FolderUsageLimits = {},
): Promise<FolderUsage> {
  const walk: Walk = {
    usage: { bytes: 0, entries: 0, complete: true },
    seen: new Set(),
    maxEntries: limits.maxEntries ?? 1_000_000,
    maxDepth: limits.maxDepth ?? 64,
    deadline: limits.deadline ?? Number.POSITIVE_INFINITY,
  };
  const top = await openFolder(path);
  try {
    if (count(walk, await top.stat())) await walkInside(walk, top, 0);
  } finally {
    await top.close();
  }
  return walk.usage;
}

async function walkInside(walk: Walk, folder: FileHandle, depth: number): Promise<boolean> {
  // A stream of names, not one array: a folder of millions of entries costs no more memory.
  const dir = await opendir(inFolder(folder), { bufferSize: 256 }).catch(() => undefined);
  if (!dir) return true;
  try {
    for await (const entry of dir) {
      const path = inFolder(folder, entry.name);
      const info = await lstat(path).catch(() => undefined);
      if (!info) continue;
      if (!count(walk, info)) return false;
      if (!info.isDirectory()) continue;
      if (depth >= walk.maxDepth) {
        walk.usage.complete = false;
        continue;
      }
      const child = await openFolder(path).catch(() => undefined);
      // Swapped for a link (or removed) after the lstat: what was counted stays, nothing more.
      if (!child) continue;
      try {
        const opened = await child.stat();
        if (opened.dev !== info.dev || opened.ino !== info.ino) continue;
        if (!(await walkInside(walk, child, depth + 1))) return false;
      } finally {
        await child.close();
      }
    }
  } finally {
    // for-await closes the folder when the loop ends early; closing again is refused.
    await dir.close().catch(() => undefined);
  }
  return true;
}
