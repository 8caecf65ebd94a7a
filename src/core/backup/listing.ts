/** What is in the backup folder: its archives, each read from its manifest. */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { AppvisorError } from '../errors/index.js';
import { readManifest } from './archive-read.js';
import type { BackupManifest } from './archive.js';
import type { BackupContext } from './context.js';
import type { BackupEntry } from './model.js';

/**
 * The archive `file` (relative to the backup folder) as list shows it; with its `passphrase`,
 * an encrypted one's manifest is read too. Throws for a file that is not an archive.
 */
export async function readEntry(
  ctx: BackupContext,
  file: string,
  passphrase?: string,
): Promise<BackupEntry> {
  const path = join(ctx.folder, file);
  const info = await stat(path);
  let manifest: BackupManifest | null = null;
  let encrypted = false;
  try {
    manifest = await readManifest(path, passphrase);
  } catch (error) {
    if (!(error instanceof AppvisorError) || error.code !== 'PASSPHRASE_WRONG') throw error;
    encrypted = true;
  }
  if (passphrase) encrypted = true;
  return {
    file,
    size: info.size,
    modifiedAt: info.mtime.toISOString(),
    encrypted,
    app: manifest?.app.id ?? null,
    appVersion: manifest?.app.version ?? null,
    instance: manifest?.instance.id ?? null,
    createdAt: manifest?.createdAt ?? null,
  };
}

/** Archives in the backup folder (newest first); files that are not backups are left out. */
export async function listBackups(
  ctx: BackupContext,
  filter: { instance?: string } = {},
): Promise<BackupEntry[]> {
  const root = ctx.folder;
  const entries: BackupEntry[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const item of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      if (item.name.startsWith('.')) continue;
      const path = join(folder, item.name);
      if (item.isDirectory()) await walk(path);
      else if (item.isFile()) {
        const entry = await readEntry(ctx, relative(root, path)).catch(() => null);
        if (entry) entries.push(entry);
      }
    }
  };
  await walk(root);
  return entries
    .filter((entry) => filter.instance === undefined || entry.instance === filter.instance)
    .sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
}
