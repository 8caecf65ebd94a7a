/**
 * Making backups: one instance's archive (its dump and files, in its queue, at most `parallel`
 * dumps at once), optionally proven by a test restore, and the backups of an app's instances
 * before an update.
 */
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { AppvisorError } from '../errors/index.js';
import { diskFullCause } from '../disk/index.js';
import type { BackupSource } from '../instances/index.js';
import { writeArchive, type ArchiveInput } from './archive.js';
import type { BackupContext } from './context.js';
import { checking, concerning } from './field-errors.js';
import { readEntry } from './listing.js';
import type { BackupEntry } from './model.js';
import { targetOf, templateValues } from './naming.js';
import type { RemoteStore } from './remote.js';
import { downloadArchive, remoteKeyOf } from './remote-jobs.js';
import type { ProgressTracker } from './progress.js';
import { prune } from './retention.js';
import { checkTemplate, usesSlots } from './template.js';
import { verifyArchive } from './verify.js';

/** What a backup may be asked for besides its instance. */
export interface CreateOptions {
  /** The name template; the schedule's by default. */
  template?: string;
  /** Rolling slots (`#bn`); the schedule's by default. */
  slots?: number;
  passphrase?: string;
  /** Prove that the archive restores (see {@link verifyBackup}). */
  verify?: boolean;
  /** The remote target the archive goes to (streamed, never stored here); the folder's else. */
  target?: string;
}

/**
 * Backs one instance up. Throws `BACKUP_FAILED` (and raises the alarm) when the dump or the
 * write fails. With `verify`, the written archive is then restored into a scratch database and
 * checked.
 */
export async function createBackup(
  ctx: BackupContext,
  id: string,
  options: CreateOptions = {},
): Promise<BackupEntry> {
  const template = options.template ?? ctx.schedule().template;
  checking('template', () => {
    checkTemplate(template);
  });
  checking('instance', () => ctx.options.instances.backupSource(id));
  const progress = ctx.progress.begin('backup', id);
  // In the instance's queue: a delete or a restore of it waits for the backup (or comes
  // first, and the backup finds no instance), never pulls the database away during the dump.
  return ctx.options.instances
    .whileBackingUp(id, (source) => backUp(ctx, id, source, { ...options, template }, progress))
    .catch(async (error: unknown) => {
      const full = await diskFullCause(error, `backup of ${id}`, ctx.folder);
      throw concerning('instance', full, ['INSTANCE_NOT_FOUND']);
    })
    .finally(() => {
      progress.end();
    });
}

async function backUp(
  ctx: BackupContext,
  id: string,
  source: BackupSource,
  options: CreateOptions & { template: string },
  progress: ProgressTracker,
): Promise<BackupEntry> {
  const app = await ctx.options.apps.status(source.view.app);
  const { target } = options;
  if (target !== undefined) {
    const remote = await ctx.targets.open(target);
    try {
      return await ctx.limiter.run(() =>
        backUpRemote(ctx, id, source, app, remote, { ...options, target }, progress),
      );
    } finally {
      remote.close();
    }
  }
  return ctx.limiter.run(async () => {
    const { template } = options;
    const target = await targetOf(
      ctx,
      source.view,
      template,
      options.slots ?? ctx.schedule().slots,
    );
    let { file } = target;
    const started = ctx.clock.now();
    try {
      await ctx.options.instances.repairAccess(id);
      const written = await writeArchive({
        ...archiveSource(ctx, source, app, started),
        path: target.path,
        // Only a rolling slot is replaced; any other name taken gets a number (-2, -3, ...).
        replace: usesSlots(template),
        passphrase: options.passphrase,
        progress,
      });
      const { manifest } = written;
      file = relative(ctx.folder, written.path);
      ctx.options.alarms.clear('backup-failed', `backup of ${id} succeeded`, id);
      ctx.options.events.record({
        kind: 'backup.created',
        severity: 'info',
        subject: id,
        text: `${id} backed up to ${file} (${manifest.members['db.sql.gz'].size + manifest.members['files.tar'].size} bytes)`,
      });
      const entry = await readEntry(ctx, file, options.passphrase);
      if (options.verify) await progress.phase('verify');
      const done = options.verify ? await verifyBackup(ctx, id, entry, options.passphrase) : entry;
      await progress.done();
      return done;
    } catch (error) {
      throw await failed(ctx, id, file, error);
    }
  });
}

/** What an archive of `source` is made of: its dump, folder and manifest. */
function archiveSource(
  ctx: BackupContext,
  source: BackupSource,
  app: { id: string; version?: string | null },
  started: number,
): Pick<ArchiveInput, 'dump' | 'dataDir' | 'manifest' | 'workDir'> {
  return {
    dump: ctx.tools.dump(source.connection),
    dataDir: source.dataDir,
    manifest: {
      app: { id: app.id, version: app.version ?? '' },
      instance: {
        id: source.view.id,
        domain: source.view.domain,
        path: source.view.path,
        enabled: source.view.enabled,
        excludeFromBackup: source.view.excludeFromBackup,
        traceFlags: source.view.traceFlags,
      },
      createdAt: new Date(started).toISOString(),
    },
    workDir: ctx.workDir,
  };
}

/**
 * A backup to a remote target: named by the template against what the target holds, the
 * archive streamed to it as it is made (nothing of it kept here), then, with `verify`, brought
 * back down and test-restored.
 */
async function backUpRemote(
  ctx: BackupContext,
  id: string,
  source: BackupSource,
  app: { id: string; version?: string | null },
  remote: RemoteStore,
  options: CreateOptions & { template: string; target: string },
  progress: ProgressTracker,
): Promise<BackupEntry> {
  const { template, target } = options;
  const started = ctx.clock.now();
  let file = `${target}:${template}`;
  try {
    const values = await templateValues(ctx, source.view);
    const key = remoteKeyOf(
      template,
      values,
      options.slots ?? ctx.schedule().slots,
      await remote.list(),
    );
    file = `${target}:${key}`;
    await ctx.options.instances.repairAccess(id);
    const written = await writeArchive({
      ...archiveSource(ctx, source, app, started),
      path: key,
      passphrase: options.passphrase,
      upload: (archive) => remote.put(key, archive),
      progress,
    });
    const { manifest } = written;
    ctx.options.alarms.clear('backup-failed', `backup of ${id} succeeded`, id);
    ctx.options.events.record({
      kind: 'backup.created',
      severity: 'info',
      subject: id,
      text: `${id} backed up to ${file} (${written.size} bytes)`,
    });
    const entry: BackupEntry = {
      file: key,
      target,
      size: written.size,
      modifiedAt: new Date(ctx.clock.now()).toISOString(),
      encrypted: options.passphrase !== undefined,
      app: manifest.app.id,
      appVersion: manifest.app.version,
      instance: manifest.instance.id,
      createdAt: manifest.createdAt,
    };
    if (!options.verify) return entry;
    await progress.phase('verify');
    const path = await downloadArchive(ctx, target, key);
    try {
      return await verifyBackup(ctx, id, entry, options.passphrase, path);
    } finally {
      await rm(path, { force: true });
    }
  } catch (error) {
    throw await failed(ctx, id, file, error);
  }
}

/**
 * What a backup that failed throws, after raising its alarm: `DISK_FULL` when a disk is full
 * (the admin must free space, not look at the dump), else `BACKUP_FAILED`. A failed test
 * restore is thrown as it is: the archive was written, and that has its own code and alarm.
 */
async function failed(
  ctx: BackupContext,
  id: string,
  file: string,
  error: unknown,
): Promise<unknown> {
  if (error instanceof AppvisorError && error.code === 'BACKUP_UNVERIFIED') return error;
  const remote = error instanceof AppvisorError && error.code.startsWith('TARGET_');
  const reason = (error as Error).message;
  ctx.options.alarms.raise(
    'backup-failed',
    'error',
    `backup of ${id} to ${file} failed: ${reason}`,
    id,
  );
  // A target's error keeps its code: the admin must look at the target, not at the dump.
  if (remote) return error;
  const full = (await diskFullCause(error, id, ctx.folder)) !== error;
  return new AppvisorError(
    full ? 'DISK_FULL' : 'BACKUP_FAILED',
    `backup of ${id} failed: ${reason}`,
    {
      cause: error,
    },
  );
}

/**
 * Proves that a backup of instance `id` restores: the archive is restored, as a restore reads
 * it, into a scratch database of the instance's role (dropped after), and each table's rows
 * are compared with the counts of the dump's snapshot. Success clears the alarm
 * `backup-unverified` of the instance; failure raises it and throws `BACKUP_UNVERIFIED`
 * (the archive stays: its files and SQL may still serve by hand).
 */
async function verifyBackup(
  ctx: BackupContext,
  id: string,
  entry: BackupEntry,
  passphrase?: string,
  path = join(ctx.folder, entry.file),
): Promise<BackupEntry> {
  try {
    const report = await verifyArchive({
      path,
      passphrase,
      workDir: ctx.workDir,
      scratch: (use) => ctx.options.instances.withScratchDatabase(id, use),
    });
    ctx.options.alarms.clear('backup-unverified', `backup of ${id} verified`, id);
    ctx.options.events.record({
      kind: 'backup.verified',
      severity: 'info',
      subject: id,
      text: `${entry.file} restores: ${report.tables} tables, ${report.rows} rows (${report.seconds} s)`,
    });
    return { ...entry, verified: report };
  } catch (error) {
    const text = `${entry.file} was written, but a test restore of it failed: ${(error as Error).message}`;
    ctx.options.alarms.raise('backup-unverified', 'error', `backup of ${id}: ${text}`, id);
    throw new AppvisorError('BACKUP_UNVERIFIED', text, { cause: error });
  }
}

/**
 * Backs up every instance of an app before an update, excluded ones too, under the update
 * backups' own names and retention (`updates`), never into the schedule's rolling slots.
 */
export async function backupApp(
  ctx: BackupContext,
  app: string,
  why: string,
): Promise<BackupEntry[]> {
  const ids = ctx.options.instances.list({ app }).map((view) => view.id);
  const { template, keep } = ctx.updates;
  const entries: BackupEntry[] = [];
  for (const id of ids) {
    ctx.options.logger.info({ instance: id }, `backing up ${id} ${why}`);
    const entry = await createBackup(ctx, id, { template, slots: Math.max(1, keep) });
    await prune(ctx, entry, { template, keep });
    entries.push(entry);
  }
  return entries;
}
