/** Restoring an archive: into an instance of the same app, or as a new instance. */
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pipeline as pipe, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as extractTar } from 'tar';
import { hasControlChars } from '../../lib/text-escape.js';
import { AppvisorError } from '../errors/index.js';
import type { InstanceView, RestoreTarget } from '../instances/index.js';
import { Digest } from './archive.js';
import { readManifest, unpackArchive } from './archive-read.js';
import type { BackupContext } from './context.js';
import { checking, concerning } from './field-errors.js';
import { downloadArchive } from './remote-jobs.js';

/** Where a restore goes (exactly one of `into` and `as`) and the archive's passphrase. */
export interface RestoreOptions {
  /** An instance of the archive's app whose database and files are replaced. */
  into?: string;
  /** The id of a new instance made from the archive. */
  as?: string;
  passphrase?: string;
  /** The remote target holding `archive` (a key there); brought down to a work file first. */
  target?: string;
}

/**
 * Restores an archive into an instance of the same app: `into` replaces that instance's
 * database and files; `as` creates a new instance (new password, default path) and fills it.
 * The live data is replaced only once the new is complete.
 */
export async function restoreArchive(
  ctx: BackupContext,
  archive: string,
  options: RestoreOptions,
  shown = archive,
): Promise<InstanceView> {
  if ((options.into === undefined) === (options.as === undefined)) {
    throw new AppvisorError('BAD_REQUEST', 'restore needs exactly one of into or as');
  }
  // A NUL makes the file calls throw (a 500), and no archive is named so.
  if (hasControlChars(archive)) {
    throw new AppvisorError('BAD_REQUEST', 'an archive name must not contain control characters', {
      field: 'archive',
    });
  }
  if (options.target !== undefined) {
    const { target, ...local } = options;
    // Checked before the download, which may be long.
    if ((local.into === undefined) === (local.as === undefined)) {
      throw new AppvisorError('BAD_REQUEST', 'restore needs exactly one of into or as');
    }
    const path = await downloadArchive(ctx, target, archive);
    try {
      return await restoreArchive(ctx, path, local, `${target}:${archive}`);
    } finally {
      await rm(path, { force: true });
    }
  }
  const { instances } = ctx.options;
  const path = isAbsolute(archive) ? archive : resolve(ctx.folder, archive);
  const manifest = await readManifest(path, options.passphrase).catch((error: unknown) => {
    throw concerning('passphrase', error, ['PASSPHRASE_WRONG']);
  });
  const target = options.into ?? options.as!;
  const fill = filling(ctx, path, target, options.passphrase);
  if (options.into !== undefined) {
    const into = options.into;
    const live = checking('into', () => instances.show(into));
    if (live.app !== manifest.app.id) {
      throw new AppvisorError(
        'BACKUP_APP_MISMATCH',
        `${shown} is a backup of app ${manifest.app.id}; ${options.into} is an instance of ${live.app}`,
        { field: 'into' },
      );
    }
    await instances.replaceContents(target, fill);
  } else {
    // Created and filled as one operation: not listed before it is complete, undone when
    // it fails or a crash cuts it off. Its id, and the path made of it, are the field `as`.
    await instances
      .create(manifest.app.id, target, { domain: manifest.instance.domain, fill })
      .catch((error: unknown) => {
        throw concerning('as', error, ['INSTANCE_EXISTS', 'PATH_TAKEN', 'INVALID_INSTANCE']);
      });
  }
  ctx.options.events.record({
    kind: 'backup.restored',
    severity: 'info',
    subject: target,
    text: `${shown} restored ${options.into ? 'into' : 'as'} ${target}`,
  });
  return instances.show(target);
}

/**
 * What fills a restore's new database and folder from the archive at `path`: unpacked (every
 * member against its digest) in a work folder, the dump replayed as the instance's role, the
 * files extracted into the new folder.
 */
function filling(
  ctx: BackupContext,
  path: string,
  target: string,
  passphrase: string | undefined,
): (target: RestoreTarget) => Promise<void> {
  return async ({ connection, folder }) => {
    // Followed from when the instance's queue let it begin (the CLI says "waiting" until then).
    const progress = ctx.progress.begin('restore', target);
    const work = join(ctx.workDir, `restore-${target}-${Date.now()}`);
    try {
      await mkdir(work, { recursive: true, mode: 0o700 });
      await progress.phase('unpack');
      const unpacked = await unpackArchive(path, work, passphrase);
      const { role, ...login } = connection;
      const { members } = unpacked.manifest;
      const dumpRead = new Digest(false);
      await progress.phase('database', () => dumpRead.size, members['db.sql.gz'].size);
      await ctx.tools.replay(
        // A read error reaches the replay as the error of the stream it reads.
        pipe(createReadStream(unpacked.dumpFile), dumpRead, createGunzip(), () => undefined),
        { ...login, application_name: 'appvisor restore' },
        { role },
      );
      const filesRead = new Digest(false);
      await progress.phase('files', () => filesRead.size, members['files.tar'].size);
      await pipeline(
        createReadStream(unpacked.filesFile),
        filesRead,
        extractTar({ cwd: folder, strict: true, preserveOwner: false }) as unknown as Writable,
      );
      await progress.done();
    } finally {
      progress.end();
      await rm(work, { recursive: true, force: true });
    }
  };
}
