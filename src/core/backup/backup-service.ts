import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import { networkInterfaces, hostname } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Cron } from 'croner';
import { extract as extractTar } from 'tar';
import { once, type Component } from '../../lib/lifecycle.js';
import { hasControlChars } from '../../lib/text-escape.js';
import type { Logger } from '../../lib/logger.js';
import type { AppService, UpdateGuard } from '../apps/index.js';
import { AppvisorError, type ErrorCode } from '../errors/index.js';
import { reconcileAlarms, type AlarmRaiser } from '../alarms/index.js';
import { diskFullCause } from '../disk/index.js';
import type { EventLog } from '../events/index.js';
import type {
  BackupSource,
  InstanceService,
  InstanceView,
  RestoreTarget,
} from '../instances/index.js';
import { putSetting, type Store } from '../store/index.js';
import { readManifest, unpackArchive, writeArchive, type BackupManifest } from './archive.js';
import { dumpDatabase } from './dump.js';
import { selfCheck } from './self-check.js';
import { replayDump } from './replay.js';
import { verifyArchive, type VerifyReport } from './verify.js';
import { checkTemplate, defaultTemplate, expandTemplate, usesSlots } from './template.js';

/** A backup archive as list and create show it. */
export interface BackupEntry {
  /** Path relative to the backup folder. */
  file: string;
  size: number;
  /** When the file was written. */
  modifiedAt: string;
  encrypted: boolean;
  /** From the manifest; null for an encrypted archive (its manifest is encrypted too). */
  app: string | null;
  appVersion: string | null;
  instance: string | null;
  createdAt: string | null;
  /** Only in the answer of a backup made with `verify`: what its test restore proved. */
  verified?: VerifyReport;
}

/** The backup schedule; `cron: null` is off. */
export interface BackupSchedule {
  cron: string | null;
  template: string;
  /** Rolling slots when the template uses `#bn`. */
  slots: number;
  /** Without `#bn`: archives kept per instance in the folder of a new one (0 keeps all). */
  keep: number;
  /** Each scheduled backup is restored into a scratch database and checked (see `verify`). */
  verify: boolean;
  /** The next run, when on. */
  nextRun: string | null;
}

/** Options of {@link BackupService}. */
export interface BackupServiceOptions {
  store: Store;
  instances: InstanceService;
  /** Backups read only an app's status (its version, for the manifest). */
  apps: Pick<AppService, 'status'>;
  events: EventLog;
  /** Where alarms are raised and cleared. */
  alarms: AlarmRaiser;
  logger: Logger;
  /** Where archives go (relative templates resolve here). */
  folder: string;
  /** Dumps that may run at once. */
  parallel: number;
  /** The platform label (`#L`). */
  label: () => Promise<string>;
  /**
   * Names and retention of the backups made before an update (config `backup.updateTemplate`,
   * `backup.updateKeep`): never the schedule's, so an update never replaces a scheduled backup.
   */
  updates?: { template: string; keep: number };
}

/** Pre-update backups by default: a folder of their own, the newest 3 per instance kept. */
const defaultUpdateBackups = { template: '#A/before-update/#I-#d.tar', keep: 3 };

const scheduleKey = 'backup.schedule';
const workFolder = '.work';

interface StoredSchedule {
  cron: string | null;
  template: string;
  slots: number;
  keep: number;
  verify: boolean;
}

/** Whether the dump tool works here (checked at start). */
export interface DumpCheck {
  /** `pg_dump (PostgreSQL) 18.x`, once checked. */
  version: string | null;
  /** Why it does not work, when it does not. */
  error: string | null;
}

/**
 * The same error naming the request field it concerns (`template`, `passphrase`, ...), so that
 * forms show it there; other errors, or other codes when `codes` is given, pass unchanged.
 */
function concerning(field: string, error: unknown, codes?: readonly ErrorCode[]): unknown {
  if (!(error instanceof AppvisorError) || (codes && !codes.includes(error.code))) return error;
  return new AppvisorError(error.code, error.message, { cause: error.cause, field });
}

/** Runs `check`, naming `field` in the error it throws. */
function checking<T>(field: string, check: () => T, codes?: readonly ErrorCode[]): T {
  try {
    return check();
  } catch (error) {
    throw concerning(field, error, codes);
  }
}

/** A MAC address of this machine (`#m`): the first non-internal one, lowercase hex. */
function macAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (!address.internal && address.mac !== '00:00:00:00:00:00') {
        return address.mac.replace(/:/g, '').toLowerCase();
      }
    }
  }
  return '000000000000';
}

/** Runs at most `limit` tasks at once, the others in order. */
class Limiter {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}

/**
 * Backups of instances: one archive per instance (docs/backups.md), restored into the same
 * instance or as a new one, named by templates, made on a schedule. A failed backup raises the
 * alarm `backup-failed` (per instance) and leaves the previous archives as they were; the next
 * success clears it.
 */
export class BackupService implements Component, UpdateGuard {
  readonly name = 'backups';
  readonly #options: BackupServiceOptions;
  readonly #limiter: Limiter;
  #schedule: StoredSchedule = {
    cron: null,
    template: defaultTemplate,
    slots: 3,
    keep: 0,
    verify: false,
  };
  #dumpCheck: DumpCheck = { version: null, error: null };
  #job: Cron | undefined;

  constructor(options: BackupServiceOptions) {
    this.#options = options;
    this.#limiter = new Limiter(Math.max(1, options.parallel));
  }

  async start(): Promise<void> {
    try {
      checkTemplate(this.#updates.template);
    } catch (error) {
      throw new AppvisorError(
        'CONFIG_INVALID',
        `backup.updateTemplate: ${(error as Error).message}`,
        { field: 'backup.updateTemplate' },
      );
    }
    await mkdir(this.#options.folder, { recursive: true, mode: 0o700 });
    // Work files of backups and restores a crash interrupted: never under a final name.
    await rm(join(this.#options.folder, workFolder), { recursive: true, force: true });
    const stored = await this.#options.store.query<{ value: StoredSchedule }>(
      'SELECT value FROM settings WHERE key = $1',
      [scheduleKey],
    );
    if (stored.rows[0]) this.#schedule = { ...this.#schedule, ...stored.rows[0].value };
    this.#arm();
    // The alarm of an instance deleted since its backup failed would never be cleared.
    reconcileAlarms(this.#options.alarms, {
      owns: (alarm) => alarm.code === 'backup-failed' && alarm.subject !== 'pg_dump',
      holds: (alarm) => this.#options.instances.list({}).some((view) => view.id === alarm.subject),
      why: (alarm) => `instance ${alarm.subject} no longer exists`,
    });
    // The WebAssembly pg_dump is loaded from a package's files in a way a new version could
    // break: prove at every start that it runs, and say so loudly when it does not.
    void selfCheck().then(
      (report) => {
        this.#dumpCheck = { version: report.version, error: null };
        // Raised by an earlier start whose pg_dump did not work: nothing else clears it.
        this.#options.alarms.clear('backup-failed', `pg_dump works: ${report.version}`, 'pg_dump');
      },
      (error: unknown) => {
        const text = `pg_dump does not work: ${(error as Error).message}`;
        this.#dumpCheck = { version: null, error: text };
        this.#options.logger.error({ err: error }, text);
        this.#options.alarms.raise('backup-failed', 'critical', text, 'pg_dump');
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

  // --- making backups ---------------------------------------------------------------------

  /** The file a backup of `view` goes to, and its path; slots pick the missing or oldest. */
  async #target(
    view: InstanceView,
    template: string,
    slots: number,
  ): Promise<{ file: string; path: string }> {
    const values = {
      label: await this.#options.label(),
      app: view.app,
      instance: view.id,
      domain: view.domain,
      mac: macAddress(),
      time: new Date(),
      slot: 0,
    };
    const pathOf = (file: string) => {
      const path = resolve(this.#options.folder, file);
      if (!path.startsWith(`${resolve(this.#options.folder)}${sep}`)) {
        throw new AppvisorError('TEMPLATE_INVALID', `"${template}" leaves the backup folder`, {
          field: 'template',
        });
      }
      return path;
    };
    if (!usesSlots(template)) {
      const file = expandTemplate(template, values);
      return { file, path: pathOf(file) };
    }
    let best: { file: string; path: string; mtime: number } | undefined;
    for (let slot = 0; slot < slots; slot++) {
      const file = expandTemplate(template, { ...values, slot });
      const path = pathOf(file);
      const found = await stat(path).catch(() => null);
      if (!found) return { file, path };
      if (!best || found.mtimeMs < best.mtime) best = { file, path, mtime: found.mtimeMs };
    }
    return best!;
  }

  /**
   * Backs one instance up. `template` defaults to the schedule's; `slots` to its slots.
   * Throws `BACKUP_FAILED` (and raises the alarm) when the dump or the write fails. With
   * `verify`, the written archive is then restored into a scratch database and checked
   * (see `#verify`).
   */
  async create(
    id: string,
    options: { template?: string; slots?: number; passphrase?: string; verify?: boolean } = {},
  ): Promise<BackupEntry> {
    const template = options.template ?? this.#schedule.template;
    checking('template', () => {
      checkTemplate(template);
    });
    checking('instance', () => this.#options.instances.backupSource(id));
    // In the instance's queue: a delete or a restore of it waits for the backup (or comes
    // first, and the backup finds no instance), never pulls the database away during the dump.
    return this.#options.instances
      .whileBackingUp(id, (source) => this.#backUp(id, source, template, options))
      .catch(async (error: unknown) => {
        const full = await diskFullCause(error, `backup of ${id}`, this.#options.folder);
        throw concerning('instance', full, ['INSTANCE_NOT_FOUND']);
      });
  }

  async #backUp(
    id: string,
    source: BackupSource,
    template: string,
    options: { slots?: number; passphrase?: string; verify?: boolean },
  ): Promise<BackupEntry> {
    const app = await this.#options.apps.status(source.view.app);
    return this.#limiter.run(async () => {
      const target = await this.#target(
        source.view,
        template,
        options.slots ?? this.#schedule.slots,
      );
      let { file } = target;
      const started = Date.now();
      try {
        await this.#options.instances.repairAccess(id);
        const written = await writeArchive({
          dump: dumpDatabase(source.connection),
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
          workDir: join(this.#options.folder, workFolder),
          path: target.path,
          // Only a rolling slot is replaced; any other name taken gets a number (-2, -3, ...).
          replace: usesSlots(template),
          passphrase: options.passphrase,
        });
        const { manifest } = written;
        file = relative(this.#options.folder, written.path);
        this.#options.alarms.clear('backup-failed', `backup of ${id} succeeded`, id);
        this.#options.events.record({
          kind: 'backup.created',
          severity: 'info',
          subject: id,
          text: `${id} backed up to ${file} (${manifest.members['db.sql.gz'].size + manifest.members['files.tar'].size} bytes)`,
        });
        const entry = await this.#entry(file, options.passphrase);
        return options.verify ? await this.#verify(id, entry, options.passphrase) : entry;
      } catch (error) {
        // The archive was written: its test restore has its own code and alarm.
        if (error instanceof AppvisorError && error.code === 'BACKUP_UNVERIFIED') throw error;
        const reason = (error as Error).message;
        this.#options.alarms.raise(
          'backup-failed',
          'error',
          `backup of ${id} to ${file} failed: ${reason}`,
          id,
        );
        // A full target (or a full disk under the database) is its own code: the admin must
        // free space, not look at the dump.
        const full = (await diskFullCause(error, id, this.#options.folder)) !== error;
        throw new AppvisorError(
          full ? 'DISK_FULL' : 'BACKUP_FAILED',
          `backup of ${id} failed: ${reason}`,
          { cause: error },
        );
      }
    });
  }

  /**
   * Proves that a backup of instance `id` restores: the archive is restored, as a restore reads
   * it, into a scratch database of the instance's role (dropped after), and each table's rows
   * are compared with the counts of the dump's snapshot. Success clears the alarm
   * `backup-unverified` of the instance; failure raises it and throws `BACKUP_UNVERIFIED`
   * (the archive stays: its files and SQL may still serve by hand).
   */
  async #verify(id: string, entry: BackupEntry, passphrase?: string): Promise<BackupEntry> {
    try {
      const report = await verifyArchive({
        path: join(this.#options.folder, entry.file),
        passphrase,
        workDir: join(this.#options.folder, workFolder),
        scratch: (use) => this.#options.instances.withScratchDatabase(id, use),
      });
      this.#options.alarms.clear('backup-unverified', `backup of ${id} verified`, id);
      this.#options.events.record({
        kind: 'backup.verified',
        severity: 'info',
        subject: id,
        text: `${entry.file} restores: ${report.tables} tables, ${report.rows} rows (${report.seconds} s)`,
      });
      return { ...entry, verified: report };
    } catch (error) {
      const text = `${entry.file} was written, but a test restore of it failed: ${(error as Error).message}`;
      this.#options.alarms.raise('backup-unverified', 'error', `backup of ${id}: ${text}`, id);
      throw new AppvisorError('BACKUP_UNVERIFIED', text, { cause: error });
    }
  }

  get #updates(): { template: string; keep: number } {
    return this.#options.updates ?? defaultUpdateBackups;
  }

  /**
   * Backs up every instance of an app before an update, excluded ones too, under the update
   * backups' own names and retention (`updates`), never into the schedule's rolling slots.
   */
  async backupApp(app: string, why: string): Promise<BackupEntry[]> {
    const ids = this.#options.instances.list({ app }).map((view) => view.id);
    const { template, keep } = this.#updates;
    const entries: BackupEntry[] = [];
    for (const id of ids) {
      this.#options.logger.info({ instance: id }, `backing up ${id} ${why}`);
      const entry = await this.create(id, { template, slots: Math.max(1, keep) });
      await this.#prune(entry, { template, keep });
      entries.push(entry);
    }
    return entries;
  }

  /** A scheduled run: every instance not excluded; failures are alarms, not exceptions. */
  async runSchedule(): Promise<{ ok: string[]; failed: string[] }> {
    const views = this.#options.instances.list({}).filter((view) => !view.excludeFromBackup);
    const result = { ok: [] as string[], failed: [] as string[] };
    await Promise.all(
      views.map(async (view) => {
        try {
          // An archive that fails its check is kept, but prunes no older one.
          const entry = await this.create(view.id, { verify: this.#schedule.verify });
          await this.#prune(entry, this.#schedule);
          result.ok.push(view.id);
        } catch (error) {
          this.#options.logger.warn({ instance: view.id, err: error }, 'scheduled backup failed');
          result.failed.push(view.id);
        }
      }),
    );
    return result;
  }

  /**
   * Count retention (`keep`, templates without `#bn`): after a scheduled (or pre-update)
   * backup, the oldest archives of the same instance and app in the new archive's folder beyond
   * `keep` are removed. Archives it cannot attribute (encrypted ones) are left alone.
   */
  async #prune(
    entry: BackupEntry,
    { keep, template }: { keep: number; template: string },
  ): Promise<void> {
    if (keep <= 0 || usesSlots(template)) return;
    const folder = dirname(join(this.#options.folder, entry.file));
    const siblings: BackupEntry[] = [];
    for (const name of await readdir(folder)) {
      const file = relative(this.#options.folder, join(folder, name));
      const found = await this.#entry(file).catch(() => null);
      if (found && found.instance === entry.instance && found.app === entry.app) {
        siblings.push(found);
      }
    }
    siblings.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
    for (const old of siblings.slice(keep)) {
      await unlink(join(this.#options.folder, old.file));
      this.#options.logger.info({ file: old.file }, 'removed an old backup (retention)');
    }
  }

  // --- listing ----------------------------------------------------------------------------

  async #entry(file: string, passphrase?: string): Promise<BackupEntry> {
    const path = join(this.#options.folder, file);
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
  async list(filter: { instance?: string } = {}): Promise<BackupEntry[]> {
    const root = this.#options.folder;
    const entries: BackupEntry[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const item of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
        if (item.name.startsWith('.')) continue;
        const path = join(folder, item.name);
        if (item.isDirectory()) await walk(path);
        else if (item.isFile()) {
          const entry = await this.#entry(relative(root, path)).catch(() => null);
          if (entry) entries.push(entry);
        }
      }
    };
    await walk(root);
    return entries
      .filter((entry) => filter.instance === undefined || entry.instance === filter.instance)
      .sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
  }

  // --- restoring --------------------------------------------------------------------------

  /**
   * Restores an archive into an instance of the same app: `into` replaces that instance's
   * database and files; `as` creates a new instance (new password, default path) and fills it.
   * The live data is replaced only once the new is complete.
   */
  async restore(
    archive: string,
    options: { into?: string; as?: string; passphrase?: string },
  ): Promise<InstanceView> {
    if ((options.into === undefined) === (options.as === undefined)) {
      throw new AppvisorError('BAD_REQUEST', 'restore needs exactly one of into or as');
    }
    // A NUL makes the file calls throw (a 500), and no archive is named so.
    if (hasControlChars(archive)) {
      throw new AppvisorError(
        'BAD_REQUEST',
        'an archive name must not contain control characters',
        {
          field: 'archive',
        },
      );
    }
    const path = isAbsolute(archive) ? archive : resolve(this.#options.folder, archive);
    const manifest = await readManifest(path, options.passphrase).catch((error: unknown) => {
      throw concerning('passphrase', error, ['PASSPHRASE_WRONG']);
    });
    const target = options.into ?? options.as!;
    const fill = async ({ connection, folder }: RestoreTarget): Promise<void> => {
      const work = join(this.#options.folder, workFolder, `restore-${target}-${Date.now()}`);
      await mkdir(work, { recursive: true, mode: 0o700 });
      try {
        const unpacked = await unpackArchive(path, work, options.passphrase);
        const { role, ...login } = connection;
        await replayDump(
          createReadStream(unpacked.dumpFile).pipe(createGunzip()),
          { ...login, application_name: 'appvisor restore' },
          { role },
        );
        await pipeline(
          createReadStream(unpacked.filesFile),
          extractTar({ cwd: folder, strict: true, preserveOwner: false }) as unknown as Writable,
        );
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    };
    if (options.into !== undefined) {
      const into = options.into;
      const live = checking('into', () => this.#options.instances.show(into));
      if (live.app !== manifest.app.id) {
        throw new AppvisorError(
          'BACKUP_APP_MISMATCH',
          `${archive} is a backup of app ${manifest.app.id}; ${options.into} is an instance of ${live.app}`,
          { field: 'into' },
        );
      }
      await this.#options.instances.replaceContents(target, fill);
    } else {
      // Created and filled as one operation: not listed before it is complete, undone when
      // it fails or a crash cuts it off. Its id, and the path made of it, are the field `as`.
      await this.#options.instances
        .create(manifest.app.id, target, { domain: manifest.instance.domain, fill })
        .catch((error: unknown) => {
          throw concerning('as', error, ['INSTANCE_EXISTS', 'PATH_TAKEN', 'INVALID_INSTANCE']);
        });
    }
    this.#options.events.record({
      kind: 'backup.restored',
      severity: 'info',
      subject: target,
      text: `${archive} restored ${options.into ? 'into' : 'as'} ${target}`,
    });
    return this.#options.instances.show(target);
  }

  // --- schedule ---------------------------------------------------------------------------

  schedule(): BackupSchedule {
    return {
      ...this.#schedule,
      nextRun: this.#job?.nextRun()?.toISOString() ?? null,
    };
  }

  /** Changes the schedule; `cron: null` turns it off. Validated before anything is stored. */
  async setSchedule(change: {
    cron?: string | null;
    template?: string;
    slots?: number;
    keep?: number;
    verify?: boolean;
  }): Promise<BackupSchedule> {
    const next: StoredSchedule = { ...this.#schedule, ...change };
    if (typeof next.verify !== 'boolean') {
      throw new AppvisorError('BAD_REQUEST', 'verify is true or false', { field: 'verify' });
    }
    if (next.cron !== null) {
      try {
        new Cron(next.cron, { paused: true }).stop();
      } catch (error) {
        throw new AppvisorError(
          'BAD_REQUEST',
          `"${next.cron}" is not a cron expression: ${(error as Error).message}`,
          { field: 'cron' },
        );
      }
    }
    checking('template', () => {
      checkTemplate(next.template);
    });
    if (!Number.isInteger(next.slots) || next.slots < 1 || next.slots > 1000) {
      throw new AppvisorError('BAD_REQUEST', 'slots is a whole number from 1 to 1000', {
        field: 'slots',
      });
    }
    if (!Number.isInteger(next.keep) || next.keep < 0 || next.keep > 10_000) {
      throw new AppvisorError('BAD_REQUEST', 'keep is a whole number from 0 (all) to 10000', {
        field: 'keep',
      });
    }
    await putSetting((text, values) => this.#options.store.query(text, values), scheduleKey, next);
    this.#schedule = next;
    this.#arm();
    return this.schedule();
  }

  #arm(): void {
    this.#job?.stop();
    this.#job = undefined;
    if (this.#schedule.cron === null) return;
    // protect: a run still going when the next is due is not started twice.
    this.#job = new Cron(this.#schedule.cron, { protect: true, timezone: 'UTC' }, async () => {
      await this.runSchedule();
    });
  }

  readonly close = once(async () => {
    this.#job?.stop();
    this.#job = undefined;
    await Promise.resolve();
  });

  destroy(): void {
    this.#job?.stop();
  }
}

/** The default platform label: the machine's name. */
export function defaultLabel(): string {
  return hostname();
}
