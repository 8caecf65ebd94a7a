import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SystemUser } from '../../lib/os-users.js';
import { removeTree } from '../../lib/safe-fs.js';
import { checkAppId, type AppRecord, type Manifest, type StagedPackage } from '../catalog/index.js';
import { diskFullCause, diskFullError } from '../disk/index.js';
import { AppvisorError } from '../errors/index.js';
import { clearAppAlarms } from './app-alarms.js';
import { appUserKind } from './app-users.js';
import type { AppContext } from './context.js';
import { prepareSocketDir, socketDir } from './sdk.js';
import type { AppStatus, InstallOptions, LoadedApp } from './types.js';

/** An app store's index and the package must agree on the version and, when given, the build. */
function checkExpected(manifest: Manifest, expect: InstallOptions['expect']): void {
  if (!expect) return;
  if (manifest.version !== undefined && manifest.version !== expect.version) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `the package is version ${manifest.version}; the app store says ${expect.version}`,
    );
  }
  if (manifest.build !== undefined && manifest.build !== expect.build) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `the package is build ${manifest.build}; the app store says ${expect.build}`,
    );
  }
}

/**
 * Installs (or re-installs) an app from an archive, or from a package {@link stage}d before:
 * validated and unpacked beside the installed copy, then swapped in while the app is stopped;
 * a re-install keeps autostart unless it is given; afterwards the app runs if autostart is on
 * or it ran before. On any failure the previous version is installed and, if it ran, running
 * again. A staged package is used up: swapped in, or discarded.
 */
export async function install(
  ctx: AppContext,
  archive: string | StagedPackage,
  options: InstallOptions,
): Promise<AppStatus> {
  try {
    const staged = typeof archive === 'string' ? await stage(ctx, archive, options) : archive;
    return await installStaged(ctx, staged, options);
  } catch (error) {
    // Also a store that is down because its disk is full: the admin must free space.
    throw await diskFullCause(error, 'installing an app', ctx.options.appsDir);
  }
}

/**
 * Unpacks and checks a package beside the installed apps without touching what is installed:
 * its id, version and build are known before it is installed (what a guarded install needs to
 * back the installed version up first). The caller installs it ({@link install}) or
 * discards it ({@link discardStaged}).
 */
export async function stage(
  ctx: AppContext,
  archivePath: string,
  options: Pick<InstallOptions, 'id' | 'expect'>,
): Promise<StagedPackage> {
  if (options.id !== undefined) checkAppId(options.id);
  const staged = await ctx.catalog.stage(archivePath, options.id);
  try {
    checkExpected(staged.manifest, options.expect);
  } catch (error) {
    await ctx.catalog.discard(staged);
    throw error;
  }
  return staged;
}

/** Throws a staged package away (nothing when it was installed: its folder is gone). */
export async function discardStaged(ctx: AppContext, staged: StagedPackage): Promise<void> {
  await ctx.catalog.discard(staged);
}

async function installStaged(
  ctx: AppContext,
  staged: StagedPackage,
  options: InstallOptions,
): Promise<AppStatus> {
  const { catalog } = ctx;
  return ctx.queue.run(staged.id, async () => {
    const { id } = staged;
    const before = await catalog.get(id);
    const loaded = ctx.apps.get(id);
    const wasRunning =
      loaded !== undefined &&
      loaded.supervisor.state !== 'stopped' &&
      loaded.supervisor.state !== 'fatal';
    if (before && !options.skipUpdateHook) {
      try {
        await ctx.options.updateGuard?.()?.beforeUpdate(id);
      } catch (error) {
        await catalog.discard(staged);
        throw error;
      }
    }
    await swapIn(ctx, staged, options, { before, loaded, wasRunning });
    const record = await catalog.get(id);
    const app = await ctx.load(record!);
    app.log.note(
      `installed version ${app.manifest.version ?? '(none)'}${options.purge ? ', data purged' : ''}`,
    );
    ctx.options.events.record({
      kind: 'app.installed',
      severity: 'info',
      subject: id,
      text: `${id} ${app.manifest.version ?? ''} installed`.replace('  ', ' '),
    });
    // Autostart on asks for a running app; a re-install also brings back an app that ran.
    const start = app.record.autostart || (before !== undefined && wasRunning);
    if (start && (await catalog.isRunnable(id))) app.supervisor.start();
    return ctx.statusOf(app);
  });
}

/** What an install found before it changed anything. */
interface Before {
  before: AppRecord | undefined;
  loaded: LoadedApp | undefined;
  wasRunning: boolean;
}

/**
 * Puts a staged package in place of the installed one: the app's user, a stop of the running
 * version, the row, the folder swap, the data and socket folders. On a failure every step is
 * undone and the previous version runs again if it ran.
 */
async function swapIn(
  ctx: AppContext,
  staged: StagedPackage,
  options: InstallOptions,
  { before, loaded, wasRunning }: Before,
): Promise<void> {
  const { catalog, users, journal } = ctx;
  const { id } = staged;
  // A re-install keeps the app's user; a new app gets one nobody else has.
  let unixUser = ctx.options.isRoot ? (before?.unixUser ?? null) : null;
  let madeUser: SystemUser | null = null;
  let previous: string | null = null;
  let swapped = false;
  try {
    let owner: SystemUser | null = null;
    if (unixUser) {
      owner = await users.ensure(unixUser);
    } else if (ctx.options.isRoot) {
      owner = madeUser = await users.create(id);
      unixUser = owner.name;
      await users.giveDataFolder(id, owner);
    }
    if (loaded && wasRunning) {
      loaded.log.note('stopping for a new version');
      await ctx.stopProcess(loaded);
    }
    // The row first: a crash before the swap leaves a row whose folder is the old one (or
    // none, which boot removes), never a folder without a row.
    await catalog.save({
      id,
      autostart: options.autostart ?? before?.autostart ?? false,
      logMaxBytes: before?.logMaxBytes ?? null,
      logFiles: before?.logFiles ?? null,
      unixUser,
    });
    if (madeUser) await journal.end(appUserKind, id);
    previous = await catalog.swapIn(staged);
    swapped = true;
    const keep = new Set((await ctx.options.instances?.()?.instanceIds(id)) ?? []);
    const ids = owner ? { uid: owner.uid, gid: owner.gid } : null;
    await catalog.prepareDataFolder(id, ids, options.purge ?? false, keep);
    await prepareSocketDir(ctx.options.runDir, id, owner);
  } catch (error) {
    if (swapped) await catalog.restorePrevious(id, previous).catch(() => undefined);
    else await catalog.discard(staged);
    if (before) await catalog.save(before).catch(() => undefined);
    else await catalog.remove(id).catch(() => undefined);
    if (madeUser) await users.drop(madeUser.name).catch(() => undefined);
    await journal.end(appUserKind, id).catch(() => undefined);
    if (loaded && wasRunning) loaded.supervisor.start();
    throw diskFullError(error, `installing ${id}`);
  }
  await catalog.dropPrevious(previous);
}

/**
 * Receives a package from a stream (an upload) into a temporary file beside the apps, at most
 * `maxPackageBytes`, and hands it to `use`; the temporary file is always removed afterwards.
 */
export async function receivePackage<T>(
  ctx: AppContext,
  source: Readable,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const temp = join(ctx.options.appsDir, `.incoming-${randomBytes(6).toString('hex')}`);
  const maxBytes = ctx.options.maxPackageBytes ?? 1024 * 1024 * 1024;
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes) {
        callback(
          new AppvisorError('PACKAGE_INVALID', `the package is larger than ${maxBytes} bytes`),
        );
        return;
      }
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, limiter, createWriteStream(temp, { mode: 0o600 }));
    if (received === 0) throw new AppvisorError('PACKAGE_INVALID', 'the package is empty');
    return await use(temp);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Writes the installed folder of an app as a tar archive to `target` (a package that
 * {@link install} takes back): what an update keeps to roll back to.
 */
export async function archiveInstalled(
  ctx: AppContext,
  id: string,
  target: string,
  options: { reproducible?: boolean } = {},
): Promise<void> {
  checkAppId(id);
  ctx.get(id);
  await ctx.queue.run(id, async () => {
    await ctx.catalog.archive(id, target, options);
  });
}

/**
 * Stops the app, removes its folders, its log files, its user and its row. An app with
 * instances is refused (APP_HAS_INSTANCES) unless `force`, which deletes them first.
 */
export async function uninstall(
  ctx: AppContext,
  id: string,
  options: { force?: boolean },
): Promise<void> {
  checkAppId(id);
  ctx.get(id);
  const instances = ctx.options.instances?.();
  const ids = (await instances?.instanceIds(id)) ?? [];
  if (ids.length > 0) {
    if (!options.force) {
      throw new AppvisorError(
        'APP_HAS_INSTANCES',
        `${id} has ${ids.length} instance(s): ${ids.slice(0, 5).join(', ')}; delete them or use --force`,
      );
    }
    await instances?.removeAll(id);
  }
  await ctx.queue.run(id, async () => {
    const app = ctx.get(id);
    await ctx.stopProcess(app);
    ctx.options.sandbox?.remove(id);
    clearAppAlarms(ctx, id, `${id} was uninstalled`);
    ctx.apps.delete(id);
    await ctx.catalog.remove(id);
    await ctx.catalog.removeFolders(id);
    await removeTree(socketDir(ctx.options.runDir, id));
    await app.log.remove();
    if (app.record.unixUser) {
      await ctx.users.drop(app.record.unixUser).catch((error: unknown) => {
        ctx.options.logger.warn({ err: error, app: id }, 'cannot remove the app user');
      });
    }
    ctx.options.events.record({
      kind: 'app.uninstalled',
      severity: 'info',
      subject: id,
      text: `${id} uninstalled`,
    });
  });
}
