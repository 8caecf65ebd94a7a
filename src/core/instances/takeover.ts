/**
 * The data folder of an instance this node takes over (docs/cluster.md, "What moves and what
 * does not"): the database is the platform's and moves with the instance, the folder was on
 * the other node's disk. When this node has no folder of the instance (or an empty one), the
 * files of its newest backup on a remote target are brought in, as a restore brings them:
 * staged where no app's user reaches, chowned there, then moved in with a rename.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncFolder } from '../../lib/atomic-write.js';
import { chownTree, ensureFolder, removeTree } from '../../lib/safe-fs.js';
import type { InstanceServiceOptions, Row } from './model.js';
import { dataDirOf } from './rows.js';

/** Whether nothing is at `path`, or an empty folder. */
async function missingOrEmpty(path: string): Promise<boolean> {
  const info = await lstat(path).catch(() => null);
  if (!info) return true;
  return info.isDirectory() && (await readdir(path)).length === 0;
}

/**
 * Brings the instance's folder from its newest backup when this node has none of it; a folder
 * of its own (left from when this node last hosted the instance) is kept. Never throws: an
 * instance without its files still starts, and the event says why.
 */
export async function bringFolder(options: InstanceServiceOptions, row: Row): Promise<void> {
  const fill = options.takeoverFiles;
  const folder = dataDirOf(options, row);
  if (!fill || !(await missingOrEmpty(folder))) return;
  const staging = join(
    options.restoreStagingDir,
    `takeover-${row.id}-${randomBytes(6).toString('hex')}`,
  );
  const said = (severity: 'info' | 'warning', text: string) => {
    options.events.record({ kind: 'instance.folder', severity, subject: row.id, text });
  };
  try {
    await ensureFolder(options.restoreStagingDir, 0o700);
    await ensureFolder(staging, 0o700);
    const from = await fill(row.id, staging);
    if (from === null) {
      said(
        'warning',
        `instance ${row.id}: no backup of it on the schedule's remote target; its data folder starts empty here`,
      );
      return;
    }
    const owner = options.apps.ownerOf(row.app);
    if (owner) await chownTree(staging, owner.uid, owner.gid);
    await ensureFolder(staging, 0o700, owner);
    await mkdir(dirname(folder), { recursive: true, mode: 0o700 });
    // An empty folder (or whatever its user put at the name) moves out of the way first.
    const old = `${staging}-old`;
    await rename(folder, old).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
    await rename(staging, folder);
    await syncFolder(dirname(folder));
    await removeTree(old);
    said('info', `instance ${row.id}: its data folder is restored from ${from}`);
  } catch (error) {
    options.logger.warn({ err: error, instance: row.id }, 'cannot bring the data folder back');
    said(
      'warning',
      `instance ${row.id}: its data folder could not be restored (${(error as Error).message}); it starts empty here`,
    );
  } finally {
    await removeTree(staging).catch(() => undefined);
  }
}
