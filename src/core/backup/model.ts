/**
 * The backup subsystem's types: what it answers (entries, the schedule, the dump check), what it
 * is built from (options, and the narrow views of the subsystems it calls), and the names it
 * keeps in the store and the backup folder.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../../lib/logger.js';
import type { Pause } from '../../lib/pause-points.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { AlarmRaiser } from '../alarms/index.js';
import type { AppService } from '../apps/index.js';
import type { EventLog } from '../events/index.js';
import type { InstanceService } from '../instances/index.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../supervisor/index.js';
import type { DumpSource } from './dump.js';
import type { ReplayOptions, ReplayResult } from './replay.js';
import type { VerifyReport } from './verify.js';

/** A backup archive as list and create show it. */
export interface BackupEntry {
  /** Path relative to the backup folder, or the key on the remote `target`. */
  file: string;
  /** The remote target holding the archive; absent for the backup folder. */
  target?: string;
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
  /** The remote target scheduled backups go to; null for the backup folder. */
  target: string | null;
  /** The next run, when on. */
  nextRun: string | null;
}

/** The schedule as the store keeps it (settings row {@link scheduleKey}). */
export type StoredSchedule = Omit<BackupSchedule, 'nextRun'>;

/** Names and count retention of a kind of backups (see retention.ts). */
export interface Retention {
  template: string;
  keep: number;
}

/** Whether the dump tool works here (checked at start). */
export interface DumpCheck {
  /** `pg_dump (PostgreSQL) 18.x`, once checked. */
  version: string | null;
  /** Why it does not work, when it does not. */
  error: string | null;
}

/** What backups use of the instances subsystem. */
export type BackupInstances = Pick<
  InstanceService,
  | 'list'
  | 'show'
  | 'create'
  | 'backupSource'
  | 'whileBackingUp'
  | 'repairAccess'
  | 'replaceContents'
  | 'withScratchDatabase'
>;

/**
 * How backups read and write an instance's database: a dump of it as SQL, a replay of SQL into
 * a new one, and the check at start that the dump tool works. The WebAssembly pg_dump (dump.ts,
 * self-check.ts) and the replay of replay.ts unless given.
 */
export interface DumpTools {
  /** Resolves with the dump tool's version when it works; rejects with the reason. */
  check(): Promise<{ version: string }>;
  dump(source: DumpSource): Readable;
  replay(
    script: Readable,
    login: Omit<DumpSource, 'role'> & { application_name: string },
    options: Pick<ReplayOptions, 'role'>,
  ): Promise<ReplayResult>;
}

/** A cron job: when it runs next, and how it stops. */
export interface ScheduledJob {
  nextRun(): Date | null;
  stop(): void;
}

/**
 * Starts `run` at every time `pattern` (a cron expression, already checked) names, in UTC, never
 * twice at once.
 */
export type CronScheduler = (pattern: string, run: () => Promise<void>) => ScheduledJob;

/** Options of {@link BackupService}. */
export interface BackupServiceOptions {
  /** Where the schedule is kept (a settings row). */
  store: Pick<Store, 'query'>;
  instances: BackupInstances;
  /** Backups read only an app's status (its version, for the manifest). */
  apps: Pick<AppService, 'status'>;
  events: Pick<EventLog, 'record'>;
  /** Where alarms are raised and cleared. */
  alarms: AlarmRaiser;
  logger: Logger;
  /** Where archives go (relative templates resolve here). */
  folder: string;
  /** Seals the credentials of remote targets in the store. */
  secrets: SecretBox;
  /** Dumps that may run at once. */
  parallel: number;
  /** Largest archive an upload may be; 0 or absent: only the disk's free space bounds it. */
  maxUploadBytes?: number;
  /** The platform label (`#L`). */
  label: () => Promise<string>;
  /**
   * Names and retention of the backups made before an update (config `backup.updateTemplate`,
   * `backup.updateKeep`): never the schedule's, so an update never replaces a scheduled backup.
   */
  updates?: Retention;
  /** The time of a backup (`#d`, the manifest's `createdAt`); the system's unless given. */
  clock?: Pick<Clock, 'now'>;
  /** The dump and the replay; the real ones unless given. */
  tools?: DumpTools;
  /** Runs the schedule; croner unless given. */
  cron?: CronScheduler;
  /** Test-only pauses at the end of each phase of a backup or restore (`testing.pauses`). */
  pause?: Pause;
}

/** Pre-update backups by default: a folder of their own, the newest 3 per instance kept. */
export const defaultUpdateBackups: Retention = { template: '#A/before-update/#I-#d.tar', keep: 3 };

/** The settings row of the schedule. */
export const scheduleKey = 'backup.schedule';

/**
 * The folder (in the backup folder) of work files of backups and restores: never under a final
 * name, removed at start.
 */
export const workFolder = '.work';
