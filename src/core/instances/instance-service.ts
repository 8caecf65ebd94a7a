import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { loginDigest, sessionKeyOf } from '../../lib/app-login.js';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { AppService, InstanceHost, ServiceChannel } from '../apps/index.js';
import { generatePassword } from '../auth/index.js';
import {
  createStagingDatabase,
  databaseExists,
  dropDatabase,
  dropLeftoverDatabases,
  retiredPrefix,
  stagingPrefix,
  swapDatabases,
  dropInstanceDatabase,
  ensureInstanceDatabase,
  instanceAccessRole,
  instanceDatabaseName,
  resetInstanceRoles,
  type DatabaseServer,
  type InstanceDatabase,
} from '../database/index.js';
import { AppvisorError } from '../errors/index.js';
import { diskFullCause } from '../disk/index.js';
import { syncFolder } from '../../lib/atomic-write.js';
import { PathRouter } from '../../lib/path-router.js';
import { chownTree, ensureFolder, removeTree } from '../../lib/safe-fs.js';
import { reconcileAlarms, type ActiveAlarm, type AlarmRaiser } from '../alarms/index.js';
import { escapeControls } from '../../lib/text-escape.js';
import type { EventLog, Severity } from '../events/index.js';
import { Journal, type Store } from '../store/index.js';
import { noPause, type Pause } from '../../lib/pause-points.js';
import {
  applyTraceChanges,
  traceFlagNames,
  checkInstanceId,
  checkPassword,
  normalizeDomain,
  normalizePath,
} from './validation.js';

/** Where an instance is, as seen from the manager. */
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
  dataDir: string;
  /** Only with `reveal`. */
  password?: string;
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

/** What a challenge may be: the spec's services send at most 16 digits or hex letters. */
const challengePattern = /^[0-9A-Za-z]{1,16}$/;

/** Options of {@link InstanceService}. */
export interface InstanceServiceOptions {
  store: Store;
  database: DatabaseServer;
  apps: AppService;
  events: EventLog;
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
}

/** What a restore records in the journal (kind `restore`) before it swaps anything. */
interface RestoreWork {
  /** The database the restore fills, put in the live one's place by the swap. */
  stagingDb: string;
  /** The name the live database has after the swap, until it is dropped. */
  retired: string;
  /** The folder the restore fills, moved in place of the live one. */
  newFolder: string;
  /** Where the live folder goes, until it is removed. */
  oldFolder: string;
}

/** The journal's kind of restores. */
const restoreKind = 'restore';

/**
 * Steps of a restore in the journal: `prepare` until the new database and folder are
 * complete (a crash then drops them), `swap` from then on (a crash is rolled forward).
 */
type RestoreStep = 'prepare' | 'swap';

/** Alarms about one instance (subject: its id) that end with it, besides its app's own. */
const instanceAlarmCodes = ['backup-failed'];

interface Row {
  id: string;
  app: string;
  domain: string;
  path: string;
  password_sealed: string;
  db_name: string;
  db_password_sealed: string;
  trace_flags: string[];
  enabled: boolean;
  exclude_from_backup: boolean;
  state: 'creating' | 'ready' | 'deleting';
  created_at: Date;
}

interface Live {
  row: Row;
  state: InstanceState;
  error: string | null;
  since: Date;
  timer?: NodeJS.Timeout | undefined;
  /** Resolves when the service confirms an instance.stop. */
  stopped?: (() => void) | undefined;
}

const columns =
  'id, app, domain, path, password_sealed, db_name, db_password_sealed, trace_flags, enabled, exclude_from_backup, state, created_at';

const severities = new Set(['info', 'warning', 'error', 'critical']);

/** An event kind or alarm code a service may use: a short word. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Longest text of a service's event, alarm or failure the manager keeps (longer is cut). */
const maxTextLength = 1000;

/**
 * Instances: tenants of an app, each with its own database, web path, password, data folder
 * and trace flags, hosted inside the app's one service process (docs/service-protocol.md).
 * Creation and deletion are recorded before they start and finished at the next start after a
 * crash, so an instance is always either complete or gone.
 */
export class InstanceService implements Component, InstanceHost {
  readonly name = 'instances';
  readonly #options: InstanceServiceOptions;
  readonly #live = new Map<string, Live>();
  readonly #stateListeners = new Set<(app: string) => void>();
  readonly #channels = new Map<string, ServiceChannel>();
  /** Web paths → instances, for the front; changed in one step with the settings. */
  readonly #routes = new PathRouter<Live>();
  readonly #queue = new KeyedQueue();
  readonly #journal: Journal;

  constructor(options: InstanceServiceOptions) {
    this.#options = options;
    this.#journal = new Journal(options.store, options.nodeId);
  }

  #pause(step: string): Promise<void> {
    return (this.#options.pause ?? noPause)(step);
  }

  /**
   * Finishes or undoes what a crash interrupted, loads the instances and starts hosting them.
   * A creation cut off is undone (its client was never told it worked, or was told it failed);
   * a deletion is finished; a restore that had its new database and folder complete is rolled
   * forward, one that had not is dropped.
   */
  async start(): Promise<void> {
    const { store, nodeId } = this.#options;
    const rows = (
      await store.query<Row>(`SELECT ${columns} FROM instances WHERE node_id = $1`, [nodeId])
    ).rows;
    for (const row of rows) {
      if (row.state !== 'ready') {
        this.#options.logger.warn(
          { instance: row.id },
          row.state === 'creating'
            ? 'undoing an instance creation that was cut off or failed'
            : 'finishing an interrupted instance deletion',
        );
        // A failure here leaves the row: the next create or delete of the id tries again.
        await this.#deprovision(row).catch((error: unknown) => {
          this.#options.logger.error(
            { err: error, instance: row.id },
            'cannot remove what is left of an instance',
          );
        });
        continue;
      }
      const live: Live = {
        row,
        state: row.enabled ? 'stopped' : 'disabled',
        error: null,
        since: new Date(),
      };
      this.#live.set(row.id, live);
      this.#routes.set(row.path, live);
    }
    for (const entry of await this.#journal.pending<RestoreWork>(restoreKind)) {
      await this.#finishRestore(entry.subject, entry.step as RestoreStep, entry.data).catch(
        (error: unknown) => {
          this.#options.logger.error(
            { err: error, instance: entry.subject },
            'cannot finish a restore that was cut off; the next start tries again',
          );
        },
      );
    }
    await this.#cleanUpRestores();
    // An app's alarms about an instance deleted meanwhile would never be cleared.
    reconcileAlarms(this.#options.alarms, {
      owns: (alarm) => instanceAlarm(alarm) !== undefined,
      holds: (alarm) => this.#live.get(alarm.subject)?.row.app === instanceAlarm(alarm),
      why: (alarm) => `instance ${alarm.subject} no longer exists`,
    });
    this.#options.apps.setInstanceHost(this);
  }

  /**
   * What restores interrupted by a crash left outside the journal: staging and retired
   * databases are dropped (the swap is one transaction, so the live name always holds a
   * complete database); a staging folder is removed; a retired folder is moved back when the
   * live one is missing. What a journal entry still names (one that could not be finished) is
   * kept for the next start.
   */
  async #cleanUpRestores(): Promise<void> {
    const kept = new Set<string>();
    for (const { data } of await this.#journal.pending<RestoreWork>(restoreKind)) {
      for (const name of [data.stagingDb, data.retired]) kept.add(name);
      for (const path of [data.newFolder, data.oldFolder]) kept.add(basename(path));
    }
    const dropped = await dropLeftoverDatabases(this.#options.database, this.#restoreTag, [
      ...kept,
    ]);
    if (dropped.length > 0) {
      this.#options.logger.warn(
        { databases: dropped },
        'dropped databases of interrupted restores',
      );
    }
    const staging = this.#options.restoreStagingDir;
    for (const name of await readdir(staging).catch(() => [] as string[])) {
      if (kept.has(name)) continue;
      const match = /^(new|old)-(.+)-[0-9a-f]{12}$/.exec(name);
      const live = match ? this.#live.get(match[2]!) : undefined;
      if (
        match?.[1] === 'old' &&
        live &&
        !(await lstat(this.#dataDir(live.row)).catch(() => null))
      ) {
        await rename(join(staging, name), this.#dataDir(live.row));
      } else {
        await removeTree(join(staging, name));
      }
    }
    // Leftovers of versions that staged restores inside the app's folder (which its user can
    // change): removed without following links, never moved back.
    for (const app of new Set([...this.#live.values()].map((live) => live.row.app))) {
      const folder = this.#options.apps.dataFolder(app);
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names) {
        if (/^\.(restore|old)-(.+)-[0-9a-f]{12}$/.test(name)) await removeTree(join(folder, name));
      }
    }
  }

  /** Marks the databases this manager's restores make (see dropLeftoverDatabases). */
  get #restoreTag(): string {
    return this.#options.nodeId
      .replace(/[^a-z0-9]/gi, '')
      .slice(0, 8)
      .toLowerCase();
  }

  /** Database, role and data folder; each step may run again. */
  async #provision(row: Row): Promise<void> {
    await ensureInstanceDatabase(this.#options.database, this.#databaseOf(row));
    await this.#prepareFolder(row);
  }

  /** What the instance's database and roles must be. */
  #databaseOf(row: Row): InstanceDatabase {
    return {
      name: row.db_name,
      password: this.#options.secrets.open(row.db_password_sealed),
      connectionLimit: this.#options.connectionLimit,
      accessPassword: this.#accessPassword(row),
    };
  }

  /** The password of the manager's role of the instance: derived from the secret key. */
  #accessPassword(row: Row): string {
    return this.#options.secrets.derive(`instance-access:${row.db_name}`);
  }

  /**
   * Sets the instances' roles back as the manager made them: the password the instance is
   * given (the role may have changed it), its limits, and the manager's role of it. Failures
   * are logged: the instances start anyway.
   */
  async #resetRoles(rows: readonly Row[]): Promise<void> {
    await resetInstanceRoles(
      this.#options.database,
      rows.map((row) => this.#databaseOf(row)),
    ).catch((error: unknown) => {
      this.#options.logger.warn(
        { err: error, instances: rows.map((row) => row.id) },
        'cannot reset the roles of instances',
      );
    });
  }

  /**
   * Makes sure the manager's role of the instance is there and a member of the instance's role
   * (an older PostgreSQL lets a role revoke that itself), before a backup reads the database.
   */
  async repairAccess(id: string): Promise<void> {
    await resetInstanceRoles(this.#options.database, [this.#databaseOf(this.#get(id).row)]);
  }

  /**
   * The instance's data folder: 0700, owned by the app's user. It lies in the app's folder,
   * which the app's user can change, so it is changed through a descriptor opened without
   * following links: a link in its place is refused, its target untouched (safe-fs).
   */
  async #prepareFolder(row: Row): Promise<void> {
    const folder = this.#dataDir(row);
    await mkdir(dirname(folder), { recursive: true, mode: 0o700 });
    await ensureFolder(folder, 0o700, this.#options.apps.ownerOf(row.app));
  }

  /** Drops the database and role, removes the folder and the row; each step may run again. */
  async #deprovision(row: Row): Promise<void> {
    await dropInstanceDatabase(this.#options.database, row.db_name);
    await removeTree(this.#dataDir(row));
    await this.#options.store.query('DELETE FROM instances WHERE id = $1', [row.id]);
  }

  #dataDir(row: Pick<Row, 'app' | 'id'>): string {
    return join(this.#options.apps.dataFolder(row.app), row.id);
  }

  #get(id: string): Live {
    checkInstanceId(id);
    const live = this.#live.get(id);
    if (!live) throw new AppvisorError('INSTANCE_NOT_FOUND', `no instance "${id}"`);
    return live;
  }

  #view(live: Live, reveal = false): InstanceView {
    const { row } = live;
    return {
      id: row.id,
      app: row.app,
      domain: row.domain,
      path: row.path,
      enabled: row.enabled,
      excludeFromBackup: row.exclude_from_backup,
      traceFlags: [...row.trace_flags],
      traceFlagsAvailable: [
        ...new Set([...traceFlagNames, ...this.#options.apps.traceFlagsOf(row.app)]),
      ],
      state: live.state,
      error: live.error,
      since: live.since.toISOString(),
      createdAt: row.created_at.toISOString(),
      database: row.db_name,
      dataDir: this.#dataDir(row),
      ...(reveal ? { password: this.#options.secrets.open(row.password_sealed) } : {}),
    };
  }

  /** The instance object of the protocol, with its credentials. */
  #describe(row: Row): Record<string, unknown> {
    const info = this.#options.database.info();
    const user = row.db_name;
    const password = this.#options.secrets.open(row.db_password_sealed);
    return {
      id: row.id,
      app: row.app,
      domain: row.domain,
      path: row.path,
      password: this.#options.secrets.open(row.password_sealed),
      enabled: row.enabled,
      traceFlags: [...row.trace_flags],
      dataDir: this.#dataDir(row),
      database: {
        host: info.host,
        port: info.port,
        database: row.db_name,
        user,
        password,
        url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${info.host}:${info.port}/${encodeURIComponent(row.db_name)}`,
      },
    };
  }

  /** Calls `listener` with the app's id whenever one of its instances changes state. */
  onStateChange(listener: (app: string) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #setState(live: Live, state: InstanceState, error: string | null = null): void {
    live.state = state;
    live.error = error;
    live.since = new Date();
    if (state !== 'starting') {
      clearTimeout(live.timer);
      live.timer = undefined;
    }
    for (const listener of this.#stateListeners) listener(live.row.app);
  }

  /** Sends instance.start and waits (without blocking) for the answer, with a deadline. */
  #startIn(live: Live, channel: ServiceChannel): void {
    this.#setState(live, 'starting');
    channel.send({ type: 'instance.start', instance: this.#describe(live.row) });
    clearTimeout(live.timer);
    live.timer = setTimeout(() => {
      if (live.state !== 'starting') return;
      const text = `instance ${live.row.id} did not answer within ${this.#options.startTimeoutMs / 1000} s`;
      this.#setState(live, 'failed', text);
      this.#options.events.record({
        kind: 'instance.failed',
        severity: 'error',
        subject: live.row.id,
        text,
      });
    }, this.#options.startTimeoutMs);
    live.timer.unref();
  }

  /** Asks the service to stop hosting an instance; resolves on its answer or after 10 s. */
  async #stopIn(live: Live): Promise<void> {
    const channel = this.#channels.get(live.row.app);
    if (!channel || live.state === 'stopped' || live.state === 'disabled') return;
    const answered = new Promise<void>((resolve) => {
      live.stopped = resolve;
      setTimeout(resolve, 10_000).unref();
    });
    channel.send({ type: 'instance.stop', id: live.row.id });
    await answered;
    live.stopped = undefined;
  }

  #ofApp(app: string): Live[] {
    return [...this.#live.values()].filter((live) => live.row.app === app);
  }

  // --- InstanceHost ---------------------------------------------------------------------

  serviceReady(app: string, channel: ServiceChannel): void {
    this.#channels.set(app, channel);
    void this.#hostAll(app, channel);
  }

  /**
   * Starts every enabled instance in a service that just became ready. Folders are checked
   * first: an instance finished after a crash, before its app was loaded, may lack its owner.
   */
  async #hostAll(app: string, channel: ServiceChannel): Promise<void> {
    await this.#resetRoles(
      this.#ofApp(app)
        .filter((live) => live.row.state === 'ready' && live.row.enabled)
        .map((live) => live.row),
    );
    for (const live of this.#ofApp(app)) {
      if (live.row.state !== 'ready' || !live.row.enabled) continue;
      try {
        await this.#prepareFolder(live.row);
      } catch (error) {
        this.#setState(
          live,
          'failed',
          `its data folder cannot be prepared: ${(error as Error).message}`,
        );
        continue;
      }
      if (this.#channels.get(app) === channel) this.#startIn(live, channel);
    }
  }

  serviceGone(app: string): void {
    this.#channels.delete(app);
    for (const live of this.#ofApp(app)) {
      live.stopped?.();
      this.#setState(live, live.row.enabled ? 'stopped' : 'disabled');
    }
  }

  /**
   * What a service says besides `ready` (docs/service-protocol.md). Nothing of it is trusted:
   * texts are cut to {@link maxTextLength} and their control characters escaped; an event's
   * kind and an alarm's code must be short words; an app's alarm code is recorded as
   * `app:<app>:<code>`, so no app can raise or clear an alarm of the manager's own or of
   * another app, and one app holds at most `maxAlarms` raised at once. Rates are limited
   * before this (AppService).
   */
  serviceMessage(app: string, message: Record<string, unknown>): void {
    const id =
      typeof message.id === 'string'
        ? message.id
        : typeof message.instance === 'string'
          ? message.instance
          : undefined;
    const live = id === undefined ? undefined : this.#live.get(id);
    const mine = live?.row.app === app ? live : undefined;
    const text = typeof message.text === 'string' ? message.text : '';
    switch (message.type) {
      case 'instance.ready':
        if (mine?.state === 'starting') this.#setState(mine, 'ready');
        break;
      case 'instance.failed': {
        // Only an instance that is starting or serving can fail: a service repeating it
        // cannot fill the event log.
        if (mine?.state !== 'starting' && mine?.state !== 'ready') break;
        const error = escapeControls(
          typeof message.error === 'string' ? message.error : 'the service reported a failure',
          maxTextLength,
        );
        this.#setState(mine, 'failed', error);
        this.#options.events.record({
          kind: 'instance.failed',
          severity: 'error',
          subject: mine.row.id,
          text: `instance ${mine.row.id} failed: ${error}`,
        });
        break;
      }
      case 'instance.stopped':
        if (!mine) break;
        this.#setState(mine, mine.row.enabled ? 'stopped' : 'disabled');
        mine.stopped?.();
        break;
      case 'log': {
        const flag = typeof message.flag === 'string' ? message.flag.slice(0, 64) : null;
        // AppLog escapes control characters and cuts long lines.
        this.#options.apps.writeLog(
          app,
          mine ? mine.row.id : app,
          flag !== null && flag !== 'app' ? `${flag}: ${text}` : text,
        );
        break;
      }
      case 'event': {
        const severity = (
          severities.has(message.severity as string) ? message.severity : 'info'
        ) as Severity;
        const kind =
          typeof message.kind === 'string' && namePattern.test(message.kind)
            ? message.kind
            : 'event';
        this.#options.events.record({
          kind: `app.${kind}`.replace(/^app\.app\./, 'app.'),
          severity,
          subject: mine ? mine.row.id : app,
          text: escapeControls(text, maxTextLength),
        });
        break;
      }
      case 'alarm':
        this.#appAlarm(app, mine, message, text);
        break;
      default:
        break;
    }
  }

  /** An app's `alarm` message: raised or cleared under `app:<app>:<code>`, bounded per app. */
  #appAlarm(
    app: string,
    mine: Live | undefined,
    message: Record<string, unknown>,
    text: string,
  ): void {
    if (typeof message.code !== 'string' || !namePattern.test(message.code)) return;
    const prefix = `app:${app}:`;
    const code = `${prefix}${message.code}`;
    const subject = mine ? mine.row.id : app;
    const safe = escapeControls(text, maxTextLength);
    if (message.active === false) {
      this.#options.alarms.clear(code, safe || `${message.code} cleared`, subject);
      return;
    }
    const severity = (
      severities.has(message.severity as string) ? message.severity : 'warning'
    ) as Severity;
    const held = this.#options.alarms.active().filter((alarm) => alarm.code.startsWith(prefix));
    const known = held.some((alarm) => alarm.code === code && alarm.subject === subject);
    if (!known && held.length >= this.#options.maxAppAlarms) {
      if (!this.#alarmsFull.has(app)) {
        this.#alarmsFull.add(app);
        this.#options.apps.note(
          app,
          `alarm ${message.code} dropped: ${app} holds ${held.length} alarms, the most one app may (services.maxAlarms)`,
        );
      }
      return;
    }
    this.#alarmsFull.delete(app);
    this.#options.alarms.raise(code, severity, safe, subject);
  }

  /** Apps told (once until one of their alarms passes again) that their alarms are full. */
  readonly #alarmsFull = new Set<string>();

  instanceIds(app: string): Promise<string[]> {
    return Promise.resolve(this.#ofApp(app).map((live) => live.row.id));
  }

  async removeAll(app: string): Promise<void> {
    for (const live of this.#ofApp(app)) await this.delete(live.row.id);
  }

  // --- operations -------------------------------------------------------------------------

  /**
   * Creates an instance of `app`: validated, recorded as `creating`, its role, database and
   * folder made, filled by `fill` when given (a restore as a new instance: the new database
   * and folder are put in place as a restore puts them), then `ready` and started in the
   * service when it runs. Until then it is not listed. A failure undoes every step (a full
   * disk is DISK_FULL); what cannot be undone then is undone by the next create or delete of
   * the id, or the next start, as is a creation a crash cut off.
   */
  async create(
    app: string,
    id: string,
    options: {
      domain?: string;
      path?: string;
      password?: string;
      fill?: (target: RestoreTarget) => Promise<void>;
    } = {},
  ): Promise<InstanceView> {
    checkInstanceId(id);
    const hosts = this.#options.apps.hostsInstances(app);
    if (hosts === undefined)
      throw new AppvisorError('APP_NOT_FOUND', `no app "${app}" is installed`, { field: 'app' });
    if (!hosts)
      throw new AppvisorError(
        'INSTANCES_UNSUPPORTED',
        `${app} does not host instances (its app.json lacks "instances": true)`,
        { field: 'app' },
      );
    const domain = normalizeDomain(options.domain ?? defaultDomain());
    const path = normalizePath(options.path ?? `/${domain}/${id}`);
    if (options.password !== undefined) checkPassword(options.password);
    return this.#explained(`creating ${id}`, () => this.#create(app, id, domain, path, options));
  }

  async #create(
    app: string,
    id: string,
    domain: string,
    path: string,
    options: { password?: string; fill?: (target: RestoreTarget) => Promise<void> },
  ): Promise<InstanceView> {
    return this.#queue.run(id, async () => {
      if (this.#live.has(id))
        throw new AppvisorError('INSTANCE_EXISTS', `an instance "${id}" exists already`, {
          field: 'id',
        });
      await this.#removeLeftover(id);
      const row: Row = {
        id,
        app,
        domain,
        path,
        password_sealed: this.#options.secrets.seal(options.password ?? generatePassword()),
        db_name: instanceDatabaseName(id),
        db_password_sealed: this.#options.secrets.seal(generatePassword()),
        trace_flags: [],
        enabled: true,
        exclude_from_backup: false,
        state: 'creating',
        created_at: new Date(),
      };
      try {
        await this.#options.store.query(
          `INSERT INTO instances (id, node_id, app, domain, path, password_sealed, db_name, db_password_sealed, state)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'creating')`,
          [
            id,
            this.#options.nodeId,
            app,
            domain,
            path,
            row.password_sealed,
            row.db_name,
            row.db_password_sealed,
          ],
        );
      } catch (error) {
        throw this.#uniqueViolation(error, id, path);
      }
      try {
        await this.#pause('instance.provision');
        await this.#provision(row);
        if (options.fill) await this.#replace(row, undefined, options.fill);
        await this.#options.store.query(
          "UPDATE instances SET state = 'ready', updated_at = now() WHERE id = $1",
          [id],
        );
        row.state = 'ready';
      } catch (error) {
        await this.#deprovision(row).catch((cleanup: unknown) => {
          this.#options.logger.error(
            { err: cleanup, instance: id },
            'cleaning up a failed instance creation failed; the next create or delete of the id, or the next start, does',
          );
        });
        throw error;
      }
      const live: Live = { row, state: 'stopped', error: null, since: new Date() };
      this.#live.set(id, live);
      this.#routes.set(path, live);
      this.#options.events.record({
        kind: 'instance.created',
        severity: 'info',
        subject: id,
        text: `instance ${id} of ${app} created at ${path}`,
      });
      const channel = this.#channels.get(app);
      if (channel) this.#startIn(live, channel);
      return this.#view(live);
    });
  }

  /**
   * Removes what a failed creation or deletion of `id` left (its row stays `creating` or
   * `deleting` when the undo failed too, e.g. on a full disk): then the id is free again.
   */
  async #removeLeftover(id: string): Promise<boolean> {
    const found = await this.#options.store.query<Row>(
      `SELECT ${columns} FROM instances WHERE id = $1 AND node_id = $2 AND state <> 'ready'`,
      [id, this.#options.nodeId],
    );
    const row = found.rows[0];
    if (!row) return false;
    this.#options.logger.warn({ instance: id }, 'removing what a failed operation left');
    await this.#deprovision(row);
    return true;
  }

  /** Runs `work`; a failure that came from a full disk is DISK_FULL, others are unchanged. */
  async #explained<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw await diskFullCause(error, what, this.#options.diskPath);
    }
  }

  #uniqueViolation(error: unknown, id: string, path: string): unknown {
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code !== '23505') return error;
    if (constraint === 'instances_pkey')
      return new AppvisorError('INSTANCE_EXISTS', `an instance "${id}" exists already`, {
        field: 'id',
      });
    if (constraint === 'instances_path_key')
      return new AppvisorError('PATH_TAKEN', `the path ${path} is taken by another instance`, {
        field: 'path',
      });
    return new AppvisorError(
      'INSTANCE_EXISTS',
      `an instance "${id}" or its database exists already`,
      { field: 'id' },
    );
  }

  /** The instance serving a web path (longest whole-segment match), for the front. */
  resolve(path: string): { id: string; app: string; path: string; ready: boolean } | undefined {
    const found = this.#routes.match(path)?.value;
    if (!found) return undefined;
    return {
      id: found.row.id,
      app: found.row.app,
      path: found.row.path,
      ready: found.state === 'ready',
    };
  }

  list(filter: { app?: string } = {}): InstanceView[] {
    return [...this.#live.values()]
      .filter((live) => filter.app === undefined || live.row.app === filter.app)
      .sort((a, b) => a.row.id.localeCompare(b.row.id))
      .map((live) => this.#view(live));
  }

  show(id: string, options: { reveal?: boolean } = {}): InstanceView {
    return this.#view(this.#get(id), options.reveal ?? false);
  }

  /**
   * An admin login to the instance's app (docs/appwebsocket.md): the AppLogin an admin client
   * sends after the instance answered its AppChallenge with `challenge`, signed with the
   * instance password as it is now, and the session key that login will have.
   */
  adminLogin(id: string, challenge: string): AdminLogin {
    const { row } = this.#get(id);
    if (!challengePattern.test(challenge)) {
      throw new AppvisorError('BAD_REQUEST', 'the challenge must be 1 to 16 letters or digits');
    }
    const password = this.#options.secrets.open(row.password_sealed);
    const fields = {
      app: row.app,
      domain: row.domain,
      sip: row.app,
      guid: '0'.repeat(32),
      dn: 'Admin',
    };
    return {
      login: { mt: 'AppLogin', ...fields, digest: loginDigest(fields, challenge, password) },
      sessionKey: sessionKeyOf(challenge, password),
    };
  }

  #connection(row: Row, database = row.db_name): InstanceConnection {
    const info = this.#options.database.info();
    return {
      host: info.host,
      port: info.port,
      user: instanceAccessRole(row.db_name),
      password: this.#accessPassword(row),
      database,
      role: row.db_name,
    };
  }

  /** Every secret of the instance (its password, its role's, the manager's role's): to redact. */
  secretsOf(id: string): string[] {
    const { row } = this.#get(id);
    return [
      this.#options.secrets.open(row.password_sealed),
      this.#options.secrets.open(row.db_password_sealed),
      this.#accessPassword(row),
    ];
  }

  /**
   * Runs `backup` with what a backup of the instance reads, in the instance's queue: after
   * every operation on it queued before (a delete first makes it INSTANCE_NOT_FOUND) and
   * before every one queued after, so a delete or a restore waits for the backup.
   */
  async whileBackingUp<T>(id: string, backup: (source: BackupSource) => Promise<T>): Promise<T> {
    this.#get(id);
    return this.#queue.run(id, () => backup(this.backupSource(id)));
  }

  /** What a backup of the instance reads: its settings, database and folder. */
  backupSource(id: string): BackupSource {
    const live = this.#get(id);
    return {
      view: this.#view(live),
      connection: this.#connection(live.row),
      dataDir: this.#dataDir(live.row),
    };
  }

  /**
   * Replaces the instance's database and files with new ones, never losing the current ones
   * before the new ones are complete: `prepare` fills a new database (as the instance's role)
   * and a new folder beside the live ones; only when it succeeded is the instance stopped in
   * its service, the database swapped in one transaction, the folders swapped, and the
   * instance started again. If `prepare` fails, the new ones are dropped and nothing else
   * changed. Runs after every other operation on the instance.
   */
  async replaceContents(
    id: string,
    prepare: (target: RestoreTarget) => Promise<void>,
  ): Promise<void> {
    const replace = () =>
      this.#queue.run(id, async () => {
        const live = this.#get(id);
        await this.#replace(live.row, live, prepare);
        this.#options.events.record({
          kind: 'instance.restored',
          severity: 'info',
          subject: id,
          text: `instance ${id} replaced by a restore`,
        });
      });
    await this.#explained(`restoring ${id}`, replace);
  }

  /**
   * The work of {@link replaceContents}, in the instance's queue; `live` is absent for an
   * instance being created (a restore as a new instance), which no service hosts yet. Each
   * step is in the journal before it is taken: a crash before the new database and folder are
   * complete drops them at the next start, a crash after it finishes the swap.
   */
  async #replace(
    row: Row,
    live: Live | undefined,
    prepare: (target: RestoreTarget) => Promise<void>,
  ): Promise<void> {
    const { id } = row;
    // A restore of this instance that failed in its swap is finished first.
    const left = (await this.#journal.pending<RestoreWork>(restoreKind)).find(
      (entry) => entry.subject === id,
    );
    if (left) await this.#finishRestore(id, left.step as RestoreStep, left.data);
    const suffix = randomBytes(6).toString('hex');
    // Staged where no app's user can reach (see restoreStagingDir): unpacked and chowned as
    // root there, then moved in with a rename (which follows no link).
    const staging = this.#options.restoreStagingDir;
    await ensureFolder(staging, 0o700);
    const work: RestoreWork = {
      stagingDb: `${stagingPrefix}${this.#restoreTag}_${suffix}`,
      retired: `${retiredPrefix}${this.#restoreTag}_${suffix}`,
      newFolder: join(staging, `new-${id}-${suffix}`),
      oldFolder: join(staging, `old-${id}-${suffix}`),
    };
    await this.#journal.begin(restoreKind, id, 'prepare' satisfies RestoreStep, work);
    try {
      await resetInstanceRoles(this.#options.database, [this.#databaseOf(row)]);
      await createStagingDatabase(this.#options.database, work.stagingDb, row.db_name);
      await this.#pause('restore.fill');
      await ensureFolder(work.newFolder, 0o700);
      await prepare({ connection: this.#connection(row, work.stagingDb), folder: work.newFolder });
      const owner = this.#options.apps.ownerOf(row.app);
      if (owner) await chownTree(work.newFolder, owner.uid, owner.gid);
      await ensureFolder(work.newFolder, 0o700, owner);
    } catch (error) {
      await this.#finishRestore(id, 'prepare', work).catch((cleanup: unknown) => {
        this.#options.logger.error(
          { err: cleanup, instance: id },
          'cannot drop what a failed restore made; the next start does',
        );
      });
      throw error;
    }
    if (live) {
      const wasRunning = live.state !== 'stopped' && live.state !== 'disabled';
      await this.#stopIn(live);
      if (wasRunning) this.#setState(live, 'stopped');
    }
    await this.#journal.step(restoreKind, id, 'swap' satisfies RestoreStep);
    await this.#swapIn(row, work);
    await this.#journal.end(restoreKind, id);
    const channel = this.#channels.get(row.app);
    if (live && channel && row.enabled) this.#startIn(live, channel);
  }

  /**
   * Puts a restore's complete new database and folder in place of the live ones. Each part
   * checks what is done, so it runs again after a crash at any point: the database swap is
   * one transaction (the staging name is gone once it committed), then the folders move.
   */
  async #swapIn(row: Row, work: RestoreWork): Promise<void> {
    const { database } = this.#options;
    if (await databaseExists(database, work.stagingDb)) {
      await swapDatabases(database, row.db_name, work.stagingDb, work.retired);
    } else {
      await dropDatabase(database, work.retired);
    }
    await this.#pause('restore.swap');
    const liveFolder = this.#dataDir(row);
    if (await lstat(work.newFolder).catch(() => null)) {
      // Whatever is at the live name (the folder, or a link its user put there) moves out.
      await rename(liveFolder, work.oldFolder).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
      await rename(work.newFolder, liveFolder);
      await syncFolder(dirname(liveFolder));
      await syncFolder(dirname(work.newFolder));
    }
    await removeTree(work.oldFolder);
  }

  /**
   * Ends a restore the journal holds: rolled forward when it reached the swap and its instance
   * is still there; otherwise what it made is dropped and the live instance stays as it was.
   */
  async #finishRestore(id: string, step: RestoreStep, work: RestoreWork): Promise<void> {
    const live = this.#live.get(id);
    if (step === 'swap' && live) {
      this.#options.logger.warn({ instance: id }, 'finishing the swap of a restore');
      await this.#swapIn(live.row, work);
    } else {
      await dropDatabase(this.#options.database, work.stagingDb);
      await removeTree(work.newFolder);
    }
    await this.#journal.end(restoreKind, id);
  }

  /**
   * Runs `use` with a new empty database owned by the instance's role (the role a restore fills
   * as), and drops it afterwards, whatever happened: for checking that a backup restores. It
   * is named like a restore's staging database, so one a crash left behind is dropped at the
   * next start. The live database and folder are not touched.
   */
  async withScratchDatabase<T>(
    id: string,
    use: (connection: InstanceConnection) => Promise<T>,
  ): Promise<T> {
    const { row } = this.#get(id);
    const name = `${stagingPrefix}${this.#restoreTag}_${randomBytes(6).toString('hex')}`;
    await createStagingDatabase(this.#options.database, name, row.db_name);
    try {
      return await use(this.#connection(row, name));
    } finally {
      await dropDatabase(this.#options.database, name).catch((error: unknown) => {
        this.#options.logger.warn({ err: error, database: name }, 'cannot drop a scratch database');
      });
    }
  }

  /** Changes settings: stored, then pushed to the running service (or started/stopped). */
  async set(
    id: string,
    change: {
      domain?: string;
      path?: string;
      password?: string;
      enabled?: boolean;
      excludeFromBackup?: boolean;
    },
  ): Promise<InstanceView> {
    const domain = change.domain === undefined ? undefined : normalizeDomain(change.domain);
    const path = change.path === undefined ? undefined : normalizePath(change.path);
    if (change.password !== undefined) checkPassword(change.password);
    return this.#queue.run(id, async () => {
      const live = this.#get(id);
      const next: Row = {
        ...live.row,
        domain: domain ?? live.row.domain,
        path: path ?? live.row.path,
        password_sealed:
          change.password === undefined
            ? live.row.password_sealed
            : this.#options.secrets.seal(change.password),
        enabled: change.enabled ?? live.row.enabled,
        exclude_from_backup: change.excludeFromBackup ?? live.row.exclude_from_backup,
      };
      try {
        await this.#options.store.query(
          `UPDATE instances SET domain = $2, path = $3, password_sealed = $4, enabled = $5,
             exclude_from_backup = $6, updated_at = now() WHERE id = $1`,
          [
            id,
            next.domain,
            next.path,
            next.password_sealed,
            next.enabled,
            next.exclude_from_backup,
          ],
        );
      } catch (error) {
        throw this.#uniqueViolation(error, id, next.path);
      }
      const wasEnabled = live.row.enabled;
      // Synchronous from here: readers see the old settings and route or the new ones.
      if (next.path !== live.row.path) {
        this.#routes.delete(live.row.path);
        this.#routes.set(next.path, live);
      }
      live.row = next;
      await this.#push(live, wasEnabled);
      return this.#view(live);
    });
  }

  /** Applies an enabled change or an update to the running service. */
  async #push(live: Live, wasEnabled: boolean): Promise<void> {
    const channel = this.#channels.get(live.row.app);
    if (wasEnabled && !live.row.enabled) {
      await this.#stopIn(live);
      this.#setState(live, 'disabled');
    } else if (!wasEnabled && live.row.enabled) {
      if (channel) this.#startIn(live, channel);
      else this.#setState(live, 'stopped');
    } else if (channel && live.row.enabled && live.state !== 'stopped') {
      channel.send({ type: 'instance.update', instance: this.#describe(live.row) });
    }
  }

  /** Turns trace flags on (`+flag`) and off (`-flag`); the running instance gets them at once. */
  async trace(id: string, changes: readonly string[]): Promise<InstanceView> {
    return this.#queue.run(id, async () => {
      const live = this.#get(id);
      const declared = this.#options.apps.traceFlagsOf(live.row.app);
      const flags = applyTraceChanges(live.row.trace_flags, changes, declared);
      await this.#options.store.query(
        'UPDATE instances SET trace_flags = $2, updated_at = now() WHERE id = $1',
        [id, flags],
      );
      live.row = { ...live.row, trace_flags: flags };
      await this.#push(live, live.row.enabled);
      return this.#view(live);
    });
  }

  /**
   * Stops the instance, drops its database and role, removes its folder, clears its alarms.
   * For an id not listed, removes what a failed creation or deletion left, if anything.
   */
  async delete(id: string): Promise<void> {
    checkInstanceId(id);
    await this.#explained(`deleting ${id}`, () => this.#delete(id));
  }

  async #delete(id: string): Promise<void> {
    await this.#queue.run(id, async () => {
      if (!this.#live.has(id) && (await this.#removeLeftover(id))) return;
      const live = this.#get(id);
      await this.#options.store.query(
        "UPDATE instances SET state = 'deleting', updated_at = now() WHERE id = $1",
        [id],
      );
      live.row = { ...live.row, state: 'deleting' };
      this.#routes.delete(live.row.path);
      await this.#stopIn(live);
      this.#setState(live, 'stopped');
      await this.#deprovision(live.row);
      this.#live.delete(id);
      this.#clearAlarms(live.row);
      this.#options.events.record({
        kind: 'instance.deleted',
        severity: 'info',
        subject: id,
        text: `instance ${id} deleted`,
      });
    });
  }

  /**
   * Clears the alarms about a deleted instance: those of {@link instanceAlarmCodes} and its
   * app's (`app:<app>:*`) with the instance as subject. An app's alarms about itself have the
   * app's id as subject: when the instance has its app's id, its app's codes are left alone.
   */
  #clearAlarms(row: Row): void {
    const appPrefix = `app:${row.app}:`;
    for (const alarm of this.#options.alarms.active()) {
      if (alarm.subject !== row.id) continue;
      if (
        instanceAlarmCodes.includes(alarm.code) ||
        (alarm.code.startsWith(appPrefix) && row.id !== row.app)
      ) {
        this.#options.alarms.clear(alarm.code, `instance ${row.id} was deleted`, row.id);
      }
    }
  }

  readonly close = once(async () => {
    for (const live of this.#live.values()) clearTimeout(live.timer);
    this.#channels.clear();
    await Promise.resolve();
  });

  destroy(): void {
    for (const live of this.#live.values()) clearTimeout(live.timer);
  }
}

/**
 * The app of an app's own alarm (`app:<app>:<code>`) about one of its instances; undefined for
 * other alarms and for those about the app as a whole (the subject is the app id).
 */
function instanceAlarm(alarm: ActiveAlarm): string | undefined {
  const app = /^app:([^:]+):/.exec(alarm.code)?.[1];
  return app !== undefined && alarm.subject !== app ? app : undefined;
}

/** The default domain of new instances: this machine's name, or `localhost`. */
function defaultDomain(): string {
  const name = hostname().toLowerCase();
  try {
    return normalizeDomain(name);
  } catch {
    return 'localhost';
  }
}
