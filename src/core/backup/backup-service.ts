/**
 * The backup subsystem's one service, a facade over its jobs: making backups (create.ts, with
 * their names in naming.ts), count retention (retention.ts), listing (listing.ts), restores
 * (restore-job.ts) and the schedule (schedules.ts), which share one {@link BackupContext}.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { once, type Component } from '../../lib/lifecycle.js';
import type { UpdateGuard } from '../apps/index.js';
import { reconcileAlarms } from '../alarms/index.js';
import { AppvisorError } from '../errors/index.js';
import type { InstanceView } from '../instances/index.js';
import { systemClock } from '../supervisor/index.js';
import {
  openArchiveFile,
  receiveArchive,
  type OpenedArchive,
  type UploadOptions,
} from './archive-files.js';
import { Limiter, type BackupContext } from './context.js';
import { backupApp, createBackup, type CreateOptions } from './create.js';
import { dumpDatabase } from './dump.js';
import { listBackups } from './listing.js';
import { listRemote } from './remote-jobs.js';
import {
  BackupTargets,
  type BackupTarget,
  type TargetCredentials,
  type TargetInput,
  type TargetTest,
} from './targets.js';
import {
  defaultUpdateBackups,
  workFolder,
  type BackupEntry,
  type BackupSchedule,
  type BackupServiceOptions,
  type DumpCheck,
  type DumpTools,
} from './model.js';
import { replayDump } from './replay.js';
import { ProgressBoard, type BackupProgress } from './progress.js';
import { restoreArchive, type RestoreOptions } from './restore-job.js';
import { filesFromNewest } from './takeover-files.js';
import { cronScheduler, Schedules, type ScheduleChange } from './schedules.js';
import { selfCheck } from './self-check.js';
import { checkTemplate } from './template.js';

/** The WebAssembly pg_dump and the replay over a client connection. */
const realTools: DumpTools = {
  check: () => selfCheck(),
  dump: (source) => dumpDatabase(source),
  replay: (script, login, options) => replayDump(script, login, options),
};

/**
 * Backups of instances: one archive per instance (docs/backups.md), restored into the same
 * instance or as a new one, named by templates, made on a schedule. A failed backup raises the
 * alarm `backup-failed` (per instance) and leaves the previous archives as they were; the next
 * success clears it.
 */
export class BackupService implements Component, UpdateGuard {
  readonly name = 'backups';
  readonly #ctx: BackupContext;
  readonly #schedules: Schedules;
  #dumpCheck: DumpCheck = { version: null, error: null };

  constructor(options: BackupServiceOptions) {
    const ctx: BackupContext = {
      options,
      folder: options.folder,
      workDir: join(options.folder, workFolder),
      clock: options.clock ?? systemClock,
      tools: options.tools ?? realTools,
      limiter: new Limiter(Math.max(1, options.parallel)),
      updates: options.updates ?? defaultUpdateBackups,
      targets: new BackupTargets(options.store, options.secrets),
      progress: new ProgressBoard(options.pause),
      schedule: () => this.#schedules.stored,
    };
    this.#ctx = ctx;
    this.#schedules = new Schedules(ctx, options.cron ?? cronScheduler);
  }

  async start(): Promise<void> {
    const { options } = this.#ctx;
    try {
      checkTemplate(this.#ctx.updates.template);
    } catch (error) {
      throw new AppvisorError(
        'CONFIG_INVALID',
        `backup.updateTemplate: ${(error as Error).message}`,
        { field: 'backup.updateTemplate' },
      );
    }
    await mkdir(options.folder, { recursive: true, mode: 0o700 });
    // Work files of backups and restores a crash interrupted: never under a final name.
    await rm(this.#ctx.workDir, { recursive: true, force: true });
    await this.#schedules.load();
    // The alarm of an instance deleted since its backup failed would never be cleared.
    reconcileAlarms(options.alarms, {
      owns: (alarm) => alarm.code === 'backup-failed' && alarm.subject !== 'pg_dump',
      holds: (alarm) => options.instances.list({}).some((view) => view.id === alarm.subject),
      why: (alarm) => `instance ${alarm.subject} no longer exists`,
    });
    this.#checkDump();
  }

  /**
   * The WebAssembly pg_dump is loaded from a package's files in a way a new version could
   * break: proven at every start to run, and said loudly when it does not.
   */
  #checkDump(): void {
    const { alarms, logger } = this.#ctx.options;
    void this.#ctx.tools.check().then(
      (report) => {
        this.#dumpCheck = { version: report.version, error: null };
        // Raised by an earlier start whose pg_dump did not work: nothing else clears it.
        alarms.clear('backup-failed', `pg_dump works: ${report.version}`, 'pg_dump');
      },
      (error: unknown) => {
        const text = `pg_dump does not work: ${(error as Error).message}`;
        this.#dumpCheck = { version: null, error: text };
        logger.error({ err: error }, text);
        alarms.raise('backup-failed', 'critical', text, 'pg_dump');
      },
    );
  }

  /** Backs an app's instances up before it is replaced by another version (UpdateGuard). */
  async beforeUpdate(app: string): Promise<void> {
    await this.backupApp(app, 'before an update');
  }

  /** Whether pg_dump works here (see `appvisor status`). */
  dumpCheck(): DumpCheck {
    return { ...this.#dumpCheck };
  }

  /**
   * Backs one instance up. `template` defaults to the schedule's; `slots` to its slots.
   * Throws `BACKUP_FAILED` (and raises the alarm) when the dump or the write fails. With
   * `verify`, the written archive is then restored into a scratch database and checked
   * (`BACKUP_UNVERIFIED` and its alarm when that fails).
   */
  async create(id: string, options: CreateOptions = {}): Promise<BackupEntry> {
    return createBackup(this.#ctx, id, options);
  }

  /**
   * Backs up every instance of an app before an update, excluded ones too, under the update
   * backups' own names and retention (`updates`), never into the schedule's rolling slots.
   */
  async backupApp(app: string, why: string): Promise<BackupEntry[]> {
    return backupApp(this.#ctx, app, why);
  }

  /** A scheduled run: every instance not excluded; failures are alarms, not exceptions. */
  async runSchedule(): Promise<{ ok: string[]; failed: string[] }> {
    return this.#schedules.run();
  }

  /**
   * Archives in the backup folder, or on remote target `target` (newest first); files that are
   * not backups are left out.
   */
  async list(filter: { instance?: string; target?: string } = {}): Promise<BackupEntry[]> {
    const { target, ...rest } = filter;
    return target === undefined
      ? listBackups(this.#ctx, rest)
      : listRemote(this.#ctx, target, rest);
  }

  /** The remote targets (their credentials never leave the store). */
  async listTargets(): Promise<BackupTarget[]> {
    return this.#ctx.targets.list();
  }

  /** Writes, reads back and removes a probe object on target `name` (see {@link BackupTargets.test}). */
  async testTarget(name: string): Promise<TargetTest> {
    return this.#ctx.targets.test(name);
  }

  /** Removes a target, unless the schedule sends backups to it (`TARGET_INVALID`). */
  async removeTarget(name: string): Promise<void> {
    if (this.#schedules.stored.target === name) {
      throw new AppvisorError(
        'TARGET_INVALID',
        `the backup schedule sends backups to ${name}: change its target first`,
        { field: 'name' },
      );
    }
    await this.#ctx.targets.remove(name);
    this.#ctx.options.events.record({
      kind: 'backup.target-removed',
      severity: 'info',
      subject: name,
      text: `backup target ${name} removed (its archives stay where they are)`,
    });
  }

  /** Adds a remote target (see {@link BackupTargets.add}). */
  async addTarget(input: TargetInput): Promise<BackupTarget> {
    const target = await this.#ctx.targets.add(input);
    this.#ctx.options.events.record({
      kind: 'backup.target-added',
      severity: 'info',
      subject: target.name,
      text: `backup target ${target.name} added: ${target.url}`,
    });
    return target;
  }

  /**
   * Adds a target or replaces the one of its name whole, with the credentials given or none
   * (see {@link BackupTargets.put}): a configuration import's step and its undo.
   */
  async putTarget(input: TargetInput): Promise<BackupTarget> {
    const existed = (await this.#ctx.targets.list()).some((t) => t.name === input.name);
    const target = await this.#ctx.targets.put(input);
    this.#ctx.options.events.record({
      kind: existed ? 'backup.target-changed' : 'backup.target-added',
      severity: 'info',
      subject: target.name,
      text: `backup target ${target.name} ${existed ? 'set' : 'added'}: ${target.url}`,
    });
    return target;
  }

  /**
   * A target's credentials in the clear, only for the sealed secrets block of a configuration
   * export (see {@link BackupTargets.credentialsOf}); never answered or logged.
   */
  async targetCredentials(name: string): Promise<TargetCredentials> {
    return this.#ctx.targets.credentialsOf(name);
  }

  /**
   * Opens the archive `file` (a name as list shows it) for a download, never through a link in
   * the backup folder (`BACKUP_NOT_FOUND`).
   */
  async open(file: string): Promise<OpenedArchive> {
    return openArchiveFile(this.#ctx, file);
  }

  /**
   * Stores an uploaded archive as `file` once it proved whole (`BACKUP_INVALID` otherwise),
   * never over an existing one (`BACKUP_EXISTS`); nothing is left of a failed upload.
   */
  async receive(file: string, source: Readable, options: UploadOptions = {}): Promise<BackupEntry> {
    return receiveArchive(this.#ctx, file, source, options);
  }

  /**
   * Restores an archive into an instance of the same app: `into` replaces that instance's
   * database and files; `as` creates a new instance (new password, default path) and fills it.
   * The live data is replaced only once the new is complete.
   */
  async restore(archive: string, options: RestoreOptions): Promise<InstanceView> {
    return restoreArchive(this.#ctx, archive, options);
  }

  /** The backups and restores under way, oldest first, with their phase and bytes. */
  running(): BackupProgress[] {
    return this.#ctx.progress.list();
  }

  schedule(): BackupSchedule {
    return this.#schedules.current();
  }

  /**
   * For a node of a cluster taking `instance` over: extracts the files of its newest archive
   * on the schedule's remote target into `folder` (see {@link filesFromNewest}). Answers the
   * archive's name on the target, or null when the schedule has no remote target or the
   * target none of the instance's archives.
   */
  async filesForTakeover(instance: string, folder: string): Promise<string | null> {
    const target = this.#schedules.stored.target;
    if (target === null) return null;
    const entry = await filesFromNewest(this.#ctx, target, instance, folder);
    return entry && `${target}:${entry.file}`;
  }

  /** Arms the stored schedule again if another node of a cluster changed it. */
  reloadSchedule(): Promise<void> {
    return this.#schedules.reload();
  }

  /** Changes the schedule; `cron: null` turns it off. Validated before anything is stored. */
  async setSchedule(change: ScheduleChange): Promise<BackupSchedule> {
    return this.#schedules.set(change);
  }

  readonly close = once(async () => {
    this.#schedules.stop();
    await Promise.resolve();
  });

  destroy(): void {
    this.#schedules.stop();
  }
}
