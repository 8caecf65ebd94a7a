/**
 * An instance's data folder, brought back from its newest archive on a remote target, for a
 * node of a cluster that takes the instance over (docs/cluster.md, "What moves and what does
 * not"): the database is the platform's and moves with the instance; the folder was on the
 * lost node's disk, so the newest backup is the best there is.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as extractTar } from 'tar';
import { unpackArchive } from './archive-read.js';
import type { BackupContext } from './context.js';
import type { BackupEntry } from './model.js';
import { downloadArchive, listRemote } from './remote-jobs.js';

/**
 * Extracts the files of the newest archive of `instance` on remote target `target` into
 * `folder` (new, empty, and reachable by root alone: the caller chowns it and moves it in).
 * Every member is checked against the manifest's digest first. Answers the archive, or null
 * when the target holds none of the instance's (an encrypted one is never chosen: its
 * manifest, and so its instance, cannot be read without the passphrase).
 */
export async function filesFromNewest(
  ctx: BackupContext,
  target: string,
  instance: string,
  folder: string,
): Promise<BackupEntry | null> {
  // Newest by the manifest's time (a target's modification times may be whole seconds).
  const [newest] = (await listRemote(ctx, target, { instance })).sort((a, b) =>
    (b.createdAt ?? b.modifiedAt).localeCompare(a.createdAt ?? a.modifiedAt),
  );
  if (!newest) return null;
  const path = await downloadArchive(ctx, target, newest.file);
  const work = join(ctx.workDir, `takeover-${instance}-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(work, { recursive: true, mode: 0o700 });
    const unpacked = await unpackArchive(path, work);
    await pipeline(
      createReadStream(unpacked.filesFile),
      extractTar({ cwd: folder, strict: true, preserveOwner: false }) as unknown as Writable,
    );
    return newest;
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(path, { force: true });
  }
}
