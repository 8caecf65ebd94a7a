/** Count retention: the archives a new backup makes too many, removed. */
import { readdir, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { BackupContext } from './context.js';
import { readEntry } from './listing.js';
import type { BackupEntry, Retention } from './model.js';
import { pruneRemote } from './remote-jobs.js';
import { usesSlots } from './template.js';

/**
 * Count retention (`keep`, templates without `#bn`): after a scheduled (or pre-update)
 * backup, the oldest archives of the same instance and app in the new archive's folder beyond
 * `keep` are removed. Archives it cannot attribute (encrypted ones) are left alone.
 */
export async function prune(
  ctx: BackupContext,
  entry: BackupEntry,
  { keep, template }: Retention,
): Promise<void> {
  if (keep <= 0 || usesSlots(template)) return;
  const folder = dirname(join(ctx.folder, entry.file));
  const siblings: BackupEntry[] = [];
  for (const name of await readdir(folder)) {
    const file = relative(ctx.folder, join(folder, name));
    const found = await readEntry(ctx, file).catch(() => null);
    if (found && found.instance === entry.instance && found.app === entry.app) {
      siblings.push(found);
    }
  }
  siblings.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  for (const old of siblings.slice(keep)) {
    await unlink(join(ctx.folder, old.file));
    ctx.options.logger.info({ file: old.file }, 'removed an old backup (retention)');
  }
}

/** Count retention where `entry` was written: the backup folder or its remote target. */
export async function pruneAfter(
  ctx: BackupContext,
  entry: BackupEntry,
  retention: Retention,
): Promise<void> {
  if (entry.target === undefined) {
    await prune(ctx, entry, retention);
    return;
  }
  if (retention.keep <= 0 || usesSlots(retention.template)) return;
  const remote = await ctx.targets.open(entry.target);
  try {
    await pruneRemote(ctx, remote, entry.target, entry, retention);
  } finally {
    remote.close();
  }
}
