/**
 * The instances subsystem's types: what it answers (views, connections, logins), what it is
 * built from (options), and its row in the store.
 */
import type { Logger } from '../../lib/logger.js';
import type { Pause } from '../../lib/pause-points.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { AlarmRaiser } from '../alarms/index.js';
import type { AppService } from '../apps/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../supervisor/index.js';
import type { InstanceDatabases } from './databases.js';
import type { PbxLink } from './pbx-link.js';

/**
 * Where an instance is, as seen from the manager: its observed state in its app's service
 * (lifecycle.ts), or `disabled` for one the admin disabled that no service hosts.
 */
export type InstanceState = 'stopped' | 'starting' | 'ready' | 'failed' | 'disabled';

/** An instance as list and show return it: no secret unless asked for. */
export interface InstanceView {
  id: string;
  app: string;
  domain: string;
  path: string;
  enabled: boolean;
  excludeFromBackup: boolean;
  traceFlags: string[];
  /** Flags that can be set: the platform's and those the app declares in app.json. */
  traceFlagsAvailable: string[];
  state: InstanceState;
  /** Why it failed, when it did. */
  error: string | null;
  since: string;
  createdAt: string;
  database: string;
  /** The instance's database role, which its service logs in as (its password is never shown). */
  databaseUser: string;
  dataDir: string;
  /** What its database and data folder take on disk, as last measured (usage.ts). */
  usage: InstanceUsage;
  /** The vacuum of its database under way or waiting, if any (vacuum.ts). */
  vacuum: VacuumProgress | null;
  /** Only with `reveal`. */
  password?: string;
  /** On a cluster: the node that owns it (docs/cluster.md). */
  node?: string;
  /**
   * The PBX App-object URL and domain: in the API's answers about one instance (show, set,
   * trace, create), which know the platform's DNS name (see pbx-link.ts).
   */
  link?: PbxLink;
}

/**
 * What an instance takes on disk, as the manager last measured it (every monitor interval, and
 * after a vacuum); every field null (and `filesComplete` false) until the first measurement.
 */
export interface InstanceUsage {
  /** Its database's size on disk (`pg_database_size`). */
  databaseBytes: number | null;
  /** Its data folder's disk space as `du` counts it, links never followed. */
  filesBytes: number | null;
  /** False when the folder walk stopped at its bound: `filesBytes` is then a lower bound. */
  filesComplete: boolean;
  /** When it was measured (ISO time). */
  measuredAt: string | null;
}

/** A vacuum of an instance's database, waiting for its turn or under way. */
export interface VacuumProgress {
  /** VACUUM FULL and REINDEX DATABASE, or a plain VACUUM (ANALYZE). */
  full: boolean;
  /**
   * `waiting`: queued behind another operation on the instance (a backup, a restore);
   * `vacuum`: one table after the other; `reindex`: REINDEX DATABASE (full only).
   */
  phase: 'waiting' | 'vacuum' | 'reindex';
  /** Tables finished. */
  done: number;
  /** Tables to vacuum (known once the vacuum began). */
  tables: number;
  /** The table (or, while reindexing, the table of the index) being worked on. */
  table: string | null;
  /** PostgreSQL's phase of the statement running (`pg_stat_progress_*`), when it reports one. */
  step: string | null;
  /** Blocks of that table or index done and in all, when reported. */
  blocksDone: number | null;
  blocksTotal: number | null;
  startedAt: string;
}

/** What a vacuum did. */
export interface VacuumResult {
  id: string;
  full: boolean;
  /** Tables vacuumed. */
  tables: number;
  /** Tables dropped between the listing and their turn (not vacuumed). */
  skipped: string[];
  databaseBytesBefore: number | null;
  databaseBytesAfter: number | null;
  seconds: number;
  /** Measured again right after it. */
  usage: InstanceUsage;
}

/** What {@link InstanceService.adminLogin} gives: a frame to send as is, and its session key. */
export interface AdminLogin {
  login: {
    mt: 'AppLogin';
    app: string;
    domain: string;
    sip: string;
    guid: string;
    dn: string;
    digest: string;
  };
  sessionKey: string;
}

/**
 * How the manager reaches an instance's database as the instance's role (over TCP): it logs in
 * as its own role of the instance (`user`, with a password only the manager knows) and acts as
 * `role` (SET ROLE), so the instance's role changing its own password cannot lock it out.
 */
export interface InstanceConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The instance's role, to SET ROLE to after logging in. */
  role: string;
}

/** What a backup of an instance reads. */
export interface BackupSource {
  view: InstanceView;
  /** The instance's database, as its role. */
  connection: InstanceConnection;
  /** The instance's data folder. */
  dataDir: string;
}

/** Where a restore puts the new contents before they replace the live ones. */
export interface RestoreTarget {
  /** A new empty database owned by the instance's role. */
  connection: InstanceConnection;
  /** A new empty folder owned by the app's user. */
  folder: string;
}

/** Options of {@link InstanceService}. */
export interface InstanceServiceOptions {
  /** Where the instances' rows and the journal of their operations are. */
  store: Pick<Store, 'query'>;
  /** The database server, for the instances' databases and roles. */
  database: InstanceDatabases;
  /** What instances need of the apps subsystem: where an app's files are, whom they belong to. */
  apps: Pick<AppService, 'dataFolder' | 'hostsInstances' | 'note' | 'ownerOf' | 'traceFlagsOf'>;
  events: Pick<EventLog, 'record'>;
  /** Where alarms are raised and cleared (and the active ones counted, per app). */
  alarms: AlarmRaiser;
  /** Alarms one app may hold raised at once (config `services.maxAlarms`). */
  maxAppAlarms: number;
  logger: Logger;
  nodeId: string;
  secrets: SecretBox;
  /** Connections each instance role may hold. */
  connectionLimit: number;
  /** Time a service has to answer instance.start. */
  startTimeoutMs: number;
  /**
   * Where restores stage folders (`<data>/appdata/.restores`): root's alone (0700), on the
   * same filesystem as the app folders so that a staged folder moves in with a rename. No
   * app's user can enter it, so nothing in it can be swapped for a link while the manager
   * works on it (app ids never start with a dot).
   */
  restoreStagingDir: string;
  /** Test-only pauses at named steps (config `testing.pauses`). */
  pause?: Pause;
  /**
   * A path on the disk of the data folder (and the embedded database): a failure while it is
   * nearly full is DISK_FULL (see diskFullCause).
   */
  diskPath: string;
  /**
   * Measuring what instances take on disk in the background (usage.ts): every `intervalMs`
   * (at most 10 % of the time busy), with the `instance-large` alarm over `largeSharePercent`
   * of the data folder's disk (0: no alarm). Absent: measured only after a vacuum.
   */
  usage?: { intervalMs: number; largeSharePercent: number };
  /** The start deadline's timers and the state's times; the system's unless given. */
  clock?: Clock;
  /**
   * On a node of a cluster: fills the folder of an instance taken over from another node with
   * the files of its newest backup (see takeover.ts). Absent: it starts empty.
   */
  takeoverFiles?: (instance: string, folder: string) => Promise<string | null>;
}

/** An instance's row in the store (table `instances`). */
export interface Row {
  id: string;
  app: string;
  domain: string;
  path: string;
  password_sealed: string;
  db_name: string;
  db_password_sealed: string;
  trace_flags: string[];
  /** The desired state: hosted by its service (true) or not. */
  enabled: boolean;
  exclude_from_backup: boolean;
  /**
   * How far its making or removal got: `creating` and `deleting` are finished or undone at the
   * next start (its runtime state is not stored: see lifecycle.ts).
   */
  provisioning: 'creating' | 'ready' | 'deleting';
  created_at: Date;
}

/** The columns of {@link Row}, for SELECT. */
export const rowColumns =
  'id, app, domain, path, password_sealed, db_name, db_password_sealed, trace_flags, enabled, exclude_from_backup, provisioning, created_at';
