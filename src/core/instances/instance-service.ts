/**
 * The instances subsystem's one service, a facade over its parts: the rows and what they stand
 * for (rows.ts), making and removing instances (provision.ts), hosting them in their services
 * and what services say (runtime.ts, service-messages.ts, lifecycle.ts), settings
 * (settings.ts), restores (restore.ts), routes (routes.ts), admin logins (admin-login.ts),
 * what they take on disk (usage.ts) and the care of their databases (vacuum.ts).
 */
import { once, type Component } from '../../lib/lifecycle.js';
import type { AppInstances, ForwardedServiceMessage, ServiceChannel } from '../apps/index.js';
import { AppvisorError } from '../errors/index.js';
import { adminLoginOf } from './admin-login.js';
import { clearInstanceAlarms, reconcileInstanceAlarms } from './instance-alarms.js';
import { bringFolder } from './takeover.js';
import {
  rowColumns,
  type AdminLogin,
  type BackupSource,
  type InstanceConnection,
  type InstanceServiceOptions,
  type InstanceView,
  type RestoreTarget,
  type Row,
  type VacuumResult,
} from './model.js';
import { Provisioner } from './provision.js';
import { InstanceRegistry } from './registry.js';
import { Restorer } from './restore.js';
import type { ResolvedRoute } from './routes.js';
import {
  connectionOf,
  databaseOf,
  defaultDomain,
  prepareFolder,
  resetRoles,
  secretsOfRow,
} from './rows.js';
import { InstanceRuntime } from './runtime.js';
import { InstanceSettings, type SettingsChange } from './settings.js';
import { UsageMeter, usageTotal } from './usage.js';
import { Vacuumer } from './vacuum.js';
import { checkInstanceId, checkPassword, normalizeDomain, normalizePath } from './validation.js';

/**
 * Instances: tenants of an app, each with its own database, web path, password, data folder
 * and trace flags, hosted inside the app's one service process (docs/service-protocol.md).
 * Creation and deletion are recorded before they start and finished at the next start after a
 * crash, so an instance is always either complete or gone.
 */
export class InstanceService implements Component, AppInstances {
  readonly name = 'instances';
  readonly #options: InstanceServiceOptions;
  readonly #registry: InstanceRegistry;
  readonly #runtime: InstanceRuntime;
  readonly #restorer: Restorer;
  readonly #provisioner: Provisioner;
  readonly #settings: InstanceSettings;
  readonly #meter: UsageMeter;
  readonly #vacuumer: Vacuumer;

  constructor(options: InstanceServiceOptions) {
    this.#options = options;
    this.#registry = new InstanceRegistry(options);
    this.#runtime = new InstanceRuntime(this.#registry);
    this.#restorer = new Restorer(this.#registry);
    this.#provisioner = new Provisioner(this.#registry, this.#restorer);
    this.#settings = new InstanceSettings(this.#registry, this.#runtime);
    this.#meter = new UsageMeter(this.#registry);
    this.#vacuumer = new Vacuumer(this.#registry, this.#meter);
  }

  /**
   * Finishes or undoes what a crash interrupted, loads the instances and starts hosting them.
   * A creation cut off is undone; a deletion is finished; a restore that had its new database
   * and folder complete is rolled forward, one that had not is dropped.
   */
  async start(): Promise<void> {
    const { store, nodeId } = this.#options;
    const rows = (
      await store.query<Row>(`SELECT ${rowColumns} FROM instances WHERE node_id = $1`, [nodeId])
    ).rows;
    for (const row of rows) {
      if (row.provisioning === 'ready') this.#registry.add(row);
      else await this.#provisioner.recover(row);
    }
    await this.#restorer.recover();
    // An app's alarms about an instance deleted meanwhile would never be cleared.
    reconcileInstanceAlarms(this.#options.alarms, (id) => this.#registry.live.get(id)?.row.app);
    this.#meter.start();
  }

  /**
   * Brings the instances this node hosts in line with the store, where a cluster records who
   * owns each (docs/cluster.md): a `ready` row this node owns and has not loaded is adopted
   * (loaded, its folder prepared, started when its service runs); a loaded instance the store
   * gives to another node, or no longer has, is released (unrouted and stopped here; its
   * database is the platform's, its data folder stays). Each runs in the instance's queue,
   * after what was under way on it, and looks at its row again there.
   */
  async reconcile(): Promise<{ adopted: string[]; released: string[] }> {
    const { store, nodeId } = this.#options;
    const owned = new Map(
      (
        await store.query<Row>(
          `SELECT ${rowColumns} FROM instances WHERE node_id = $1 AND provisioning = 'ready'`,
          [nodeId],
        )
      ).rows.map((row) => [row.id, row]),
    );
    const adopted: string[] = [];
    const released: string[] = [];
    for (const row of owned.values()) {
      if (this.#registry.live.has(row.id)) continue;
      if (await this.#adopt(row)) adopted.push(row.id);
    }
    for (const id of [...this.#registry.live.keys()]) {
      if (owned.has(id)) continue;
      if (await this.#release(id)) released.push(id);
    }
    return { adopted, released };
  }

  #adopt(row: Row): Promise<boolean> {
    const registry = this.#registry;
    return registry.queue.run(row.id, async () => {
      if (registry.live.has(row.id)) return false;
      const live = registry.add(row);
      this.#options.events.record({
        kind: 'instance.adopted',
        severity: 'info',
        subject: row.id,
        text: `instance ${row.id} is owned by this node now`,
      });
      const channel = registry.channels.get(row.app);
      if (!channel || !row.enabled) return true;
      await resetRoles(this.#options, [row]);
      await bringFolder(this.#options, row);
      try {
        await prepareFolder(this.#options, row);
      } catch (error) {
        live.lifecycle.dispatch(
          'folderFailed',
          `its data folder cannot be prepared: ${(error as Error).message}`,
        );
        return true;
      }
      if (registry.channels.get(row.app) === channel) live.lifecycle.dispatch('host');
      return true;
    });
  }

  #release(id: string): Promise<boolean> {
    const registry = this.#registry;
    const { store, nodeId, events, alarms } = this.#options;
    return registry.queue.run(id, async () => {
      const live = registry.live.get(id);
      if (!live || live.row.provisioning !== 'ready') return false;
      const found = await store.query<{ node_id: string }>(
        'SELECT node_id FROM instances WHERE id = $1',
        [id],
      );
      const owner = found.rows[0]?.node_id;
      if (owner === nodeId) return false;
      registry.routes.delete(live.row.path);
      await live.lifecycle.stop();
      live.lifecycle.dispose();
      registry.live.delete(id);
      registry.usage.delete(id);
      clearInstanceAlarms(alarms, live.row);
      events.record({
        kind: 'instance.released',
        severity: 'warning',
        subject: id,
        text:
          owner === undefined
            ? `instance ${id} is gone from the store; stopped here`
            : `instance ${id} is owned by node ${owner} now; stopped here (its data folder stays)`,
      });
      return true;
    });
  }

  /**
   * Makes sure the manager's role of the instance is there and a member of the instance's role
   * (an older PostgreSQL lets a role revoke that itself), before a backup reads the database.
   */
  async repairAccess(id: string): Promise<void> {
    const { row } = this.#registry.get(id);
    await this.#options.database.resetRoles([databaseOf(this.#options, row)]);
  }

  // --- the app service's events (subscribed in main.ts) and AppInstances -----------------

  serviceReady(app: string, channel: ServiceChannel): void {
    this.#runtime.serviceReady(app, channel);
  }

  serviceGone(app: string): void {
    this.#runtime.serviceGone(app);
  }

  serviceMessage(app: string, message: ForwardedServiceMessage): void {
    this.#runtime.serviceMessage(app, message);
  }

  /** Calls `listener` with the app's id whenever one of its instances changes state. */
  onStateChange(listener: (app: string) => void): () => void {
    this.#registry.stateListeners.add(listener);
    return () => this.#registry.stateListeners.delete(listener);
  }

  appOf(instance: string): string | undefined {
    return this.#registry.live.get(instance)?.row.app;
  }

  instanceIds(app: string): Promise<string[]> {
    return Promise.resolve(this.#registry.ofApp(app).map((live) => live.row.id));
  }

  async removeAll(app: string): Promise<void> {
    for (const live of this.#registry.ofApp(app)) await this.delete(live.row.id);
  }

  // --- operations -------------------------------------------------------------------------

  /**
   * Creates an instance of `app`: validated, then made (provision.ts), filled by `fill` when
   * given (a restore as a new instance: the new database and folder are put in place as a
   * restore puts them), and started in the service when it runs. Until then it is not listed.
   * A failure undoes every step (a full disk is DISK_FULL).
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
    const made = { app, id, domain, path, password: options.password, fill: options.fill };
    return this.#registry.explained(`creating ${id}`, () => this.#provisioner.create(made));
  }

  /** The instance serving a web path (longest whole-segment match), for the front. */
  resolve(path: string): ResolvedRoute | undefined {
    return this.#registry.routes.resolve(path);
  }

  /**
   * The instances (of one app), by id, or with `sort: 'size'` largest first (database and
   * files together, as last measured; those not measured yet last).
   */
  list(filter: { app?: string; sort?: 'id' | 'size' } = {}): InstanceView[] {
    const views = [...this.#registry.live.values()]
      .filter((live) => filter.app === undefined || live.row.app === filter.app)
      .sort((a, b) => a.row.id.localeCompare(b.row.id))
      .map((live) => this.#registry.view(live));
    if (filter.sort !== 'size') return views;
    const size = (view: InstanceView) => usageTotal(view.usage) ?? -1;
    return views.sort((a, b) => size(b) - size(a));
  }

  show(id: string, options: { reveal?: boolean } = {}): InstanceView {
    return this.#registry.view(this.#registry.get(id), options.reveal ?? false);
  }

  /**
   * An admin login to the instance's app (docs/appwebsocket.md): the AppLogin an admin client
   * sends after the instance answered its AppChallenge with `challenge`, signed with the
   * instance password as it is now, and the session key that login will have.
   */
  adminLogin(id: string, challenge: string): AdminLogin {
    return adminLoginOf(this.#options.secrets, this.#registry.get(id).row, challenge);
  }

  /** Every secret of the instance (its password, its role's, the manager's role's): to redact. */
  secretsOf(id: string): string[] {
    return secretsOfRow(this.#options, this.#registry.get(id).row);
  }

  /**
   * Runs `backup` with what a backup of the instance reads, in the instance's queue: after
   * every operation on it queued before (a delete first makes it INSTANCE_NOT_FOUND) and
   * before every one queued after, so a delete or a restore waits for the backup.
   */
  async whileBackingUp<T>(id: string, backup: (source: BackupSource) => Promise<T>): Promise<T> {
    this.#registry.get(id);
    return this.#registry.queue.run(id, () => backup(this.backupSource(id)));
  }

  /** What a backup of the instance reads: its settings, database and folder. */
  backupSource(id: string): BackupSource {
    const live = this.#registry.get(id);
    return {
      view: this.#registry.view(live),
      connection: connectionOf(this.#options, live.row),
      dataDir: this.#registry.dataDir(live.row),
    };
  }

  /**
   * Replaces the instance's database and files with new ones, never losing the current ones
   * before the new ones are complete (restore.ts). Runs after every other operation on the
   * instance.
   */
  async replaceContents(
    id: string,
    prepare: (target: RestoreTarget) => Promise<void>,
  ): Promise<void> {
    const replace = () =>
      this.#registry.queue.run(id, async () => {
        const live = this.#registry.get(id);
        await this.#restorer.replace(live.row, live, prepare);
        this.#options.events.record({
          kind: 'instance.restored',
          severity: 'info',
          subject: id,
          text: `instance ${id} replaced by a restore`,
        });
      });
    await this.#registry.explained(`restoring ${id}`, replace);
  }

  /**
   * Runs `use` with a new empty database owned by the instance's role, dropped afterwards:
   * for checking that a backup restores (restore.ts).
   */
  async withScratchDatabase<T>(
    id: string,
    use: (connection: InstanceConnection) => Promise<T>,
  ): Promise<T> {
    return this.#restorer.withScratchDatabase(this.#registry.get(id).row, use);
  }

  /**
   * VACUUM (ANALYZE), or with `full` VACUUM FULL and REINDEX DATABASE, of the instance's
   * database as its role, in the instance's queue, its progress in the instance's view
   * (vacuum.ts); the instance's usage is measured again after it.
   */
  async vacuum(id: string, options: { full?: boolean } = {}): Promise<VacuumResult> {
    return this.#vacuumer.run(id, options.full ?? false);
  }

  /** Changes settings: stored, then pushed to the running service (or started/stopped). */
  async set(id: string, change: SettingsChange): Promise<InstanceView> {
    return this.#settings.set(id, change);
  }

  /** Turns trace flags on (`+flag`) and off (`-flag`); the running instance gets them at once. */
  async trace(id: string, changes: readonly string[]): Promise<InstanceView> {
    return this.#settings.trace(id, changes);
  }

  /**
   * Stops the instance, drops its database and role, removes its folder, clears its alarms.
   * For an id not listed, removes what a failed creation or deletion left, if anything.
   */
  async delete(id: string): Promise<void> {
    checkInstanceId(id);
    await this.#registry.explained(`deleting ${id}`, () => this.#provisioner.delete(id));
  }

  readonly close = once(async () => {
    this.#meter.close();
    this.#registry.dispose();
    this.#registry.channels.clear();
    await Promise.resolve();
  });

  destroy(): void {
    this.#meter.close();
    this.#registry.dispose();
  }
}
