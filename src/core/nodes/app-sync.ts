import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';

/** What the sync needs of the app service. */
export interface SyncedApps {
  /**
   * Writes an app's installed folder as a tar file that depends only on its contents (the
   * same package gives the same bytes on every node), in the app's queue.
   */
  archive(id: string, target: string): Promise<void>;
  install(archive: string, options: { id: string; autostart: boolean }): Promise<unknown>;
  uninstall(id: string): Promise<void>;
}

/** Options of {@link AppSync}. */
export interface AppSyncOptions {
  store: Pick<Store, 'query'>;
  apps: SyncedApps;
  events: Pick<EventLog, 'record'>;
  logger: Logger;
  nodeId: string;
  /** Time between two passes. */
  intervalMs: number;
  /** Largest package kept for the platform (`apps.maxPackageBytes`). */
  maxPackageBytes: number;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Keeps every node of a cluster on the platform's apps (docs/cluster.md, "Apps"):
 *
 * - an app installed on this node by hand (its row names no package) is packed (the same way
 *   on every node: one package, one sha256) and kept in the store as the platform's package;
 * - a package this node has not installed (or an older one) is fetched, checked against its
 *   sha256, and installed here with the publisher's autostart;
 * - an app this node got from the platform whose package is gone (uninstalled on another
 *   node) is uninstalled here, unless it still hosts instances.
 *
 * Runs on its own timer, never inside a lease renewal: an install may take longer than a
 * lease. A package that failed to install is not tried again until another one replaces it.
 */
export class AppSync implements Component {
  readonly name = 'app sync';
  readonly #options: AppSyncOptions;
  readonly #failed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #closed = false;

  constructor(options: AppSyncOptions) {
    this.#options = options;
  }

  start(): Promise<void> {
    this.#schedule(0);
    return Promise.resolve();
  }

  #schedule(delay: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.sync()
        .catch((error: unknown) => {
          this.#options.logger.warn(
            { err: error },
            'the apps could not be synced with the platform',
          );
        })
        .finally(() => {
          this.#pass = undefined;
          this.#schedule(this.#options.intervalMs);
        });
    }, delay);
    this.#timer.unref();
  }

  /** One pass: publish, install, uninstall (see the class). */
  async sync(): Promise<void> {
    const { store, nodeId } = this.#options;
    const local = (
      await store.query<{ id: string; package_sha256: string | null; autostart: boolean }>(
        'SELECT id, package_sha256, autostart FROM apps WHERE node_id = $1',
        [nodeId],
      )
    ).rows;
    for (const app of local) {
      if (app.package_sha256 === null && !this.#closed) await this.#publish(app.id, app.autostart);
    }
    const platform = (
      await store.query<{ app: string; sha256: string; autostart: boolean }>(
        'SELECT app, sha256, autostart FROM app_packages',
      )
    ).rows;
    const mine = new Map(local.map((app) => [app.id, app.package_sha256]));
    for (const entry of platform) {
      if (this.#closed) return;
      const have = mine.get(entry.app);
      if (have === entry.sha256 || have === null || this.#failed.has(entry.sha256)) continue;
      await this.#receive(entry);
    }
    const published = new Set(platform.map((entry) => entry.app));
    for (const app of local) {
      if (this.#closed) return;
      if (app.package_sha256 !== null && !published.has(app.id)) await this.#drop(app.id);
    }
  }

  async #publish(id: string, autostart: boolean): Promise<void> {
    const { store, nodeId, maxPackageBytes } = this.#options;
    const work = await mkdtemp(join(tmpdir(), 'appvisor-sync-'));
    let archive: Buffer;
    try {
      const file = join(work, `${id}.tar`);
      await this.#options.apps.archive(id, file);
      const { size } = await stat(file);
      if (size > maxPackageBytes) {
        this.#options.logger.warn({ app: id, bytes: size }, 'an app too large to share');
        return;
      }
      archive = await readFile(file);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const hash = sha256(archive);
    await store.query(
      `INSERT INTO app_packages (app, sha256, archive, autostart, from_node)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (app) DO UPDATE SET sha256 = excluded.sha256, archive = excluded.archive,
         autostart = excluded.autostart, from_node = excluded.from_node, updated_at = now()
       WHERE app_packages.sha256 <> excluded.sha256`,
      [id, hash, archive, autostart, nodeId],
    );
    await this.#mark(id, hash);
  }

  async #receive(entry: { app: string; sha256: string; autostart: boolean }): Promise<void> {
    const { store, events, logger } = this.#options;
    const found = await store.query<{ archive: Buffer }>(
      'SELECT archive FROM app_packages WHERE app = $1 AND sha256 = $2',
      [entry.app, entry.sha256],
    );
    const archive = found.rows[0]?.archive;
    if (!archive) return; // replaced meanwhile: the next pass takes the new one
    const work = await mkdtemp(join(tmpdir(), 'appvisor-sync-'));
    try {
      if (sha256(archive) !== entry.sha256) throw new Error('its sha256 does not match');
      const file = join(work, `${entry.app}.tar`);
      await writeFile(file, archive, { mode: 0o600 });
      await this.#options.apps.install(file, { id: entry.app, autostart: entry.autostart });
      await this.#mark(entry.app, entry.sha256);
      events.record({
        kind: 'app.synced',
        severity: 'info',
        subject: entry.app,
        text: `${entry.app} installed from the platform's package ${entry.sha256.slice(0, 12)}`,
      });
    } catch (error) {
      this.#failed.add(entry.sha256);
      logger.warn({ err: error, app: entry.app }, 'the platform package could not be installed');
      events.record({
        kind: 'app.sync-failed',
        severity: 'error',
        subject: entry.app,
        text: `${entry.app}: the platform's package ${entry.sha256.slice(0, 12)} could not be installed here: ${(error as Error).message}`,
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async #drop(id: string): Promise<void> {
    try {
      await this.#options.apps.uninstall(id);
      this.#options.events.record({
        kind: 'app.synced',
        severity: 'info',
        subject: id,
        text: `${id} uninstalled: it was uninstalled from the platform`,
      });
    } catch (error) {
      // Instances still here (APP_HAS_INSTANCES): kept, and said once.
      if (this.#failed.has(`drop:${id}`)) return;
      this.#failed.add(`drop:${id}`);
      this.#options.logger.warn({ err: error, app: id }, 'an app gone from the platform stays');
    }
  }

  async #mark(id: string, hash: string): Promise<void> {
    await this.#options.store.query(
      'UPDATE apps SET package_sha256 = $3 WHERE node_id = $1 AND id = $2',
      [this.#options.nodeId, id, hash],
    );
  }

  /** Removes the platform's package of an app uninstalled by the admin on this node. */
  async forget(id: string): Promise<void> {
    await this.#options.store.query('DELETE FROM app_packages WHERE app = $1', [id]);
  }

  readonly close = once(async () => {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#pass;
  });

  destroy(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
