import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { reconcileAlarms, type AlarmRaiser } from '../alarms/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import {
  haltStillHolds,
  interruptedInstall,
  rollStep,
  rolloutHaltedAlarm,
  type PlatformPackage,
} from './rollout.js';

/** What the sync needs of the app service. */
export interface SyncedApps {
  /**
   * Writes an app's installed folder as a tar file that depends only on its contents (the
   * same package gives the same bytes on every node), in the app's queue.
   */
  archive(id: string, target: string): Promise<void>;
  /**
   * Installs a package as an install by hand does. Over an installed app: its instances
   * backed up first, then, if the app runs afterwards, a wait until it and every enabled
   * instance are ready (the app store's update timeout); when it does not get ready, the
   * previous version and the instances are put back and it throws. Whenever it throws, the
   * previous version is what is installed.
   */
  /** `autostart` absent: the app keeps its own (an update). */
  install(archive: string, options: { id: string; autostart?: boolean }): Promise<unknown>;
  uninstall(id: string): Promise<void>;
  /**
   * Whether an update of the app is under way on this node (an install by hand or from an
   * app store waiting for it to get ready, or one a stopped manager left, being finished).
   */
  updating(id: string): boolean;
}

/** Options of {@link AppSync}. */
export interface AppSyncOptions {
  store: Pick<Store, 'query'>;
  apps: SyncedApps;
  events: Pick<EventLog, 'record'>;
  /** Raises `app-rollout-halted` when a package this node tried stops the roll. */
  alarms: AlarmRaiser;
  logger: Logger;
  nodeId: string;
  /** Time between two passes. */
  intervalMs: number;
  /** Largest package kept for the platform (`apps.maxPackageBytes`). */
  maxPackageBytes: number;
}

/** This node's row of an app. */
interface LocalRow {
  id: string;
  /** The platform package it was installed from; null: installed here, not yet published. */
  package_sha256: string | null;
  autostart: boolean;
  /** The package it had while one from the platform is being installed. */
  rolling_from: string | null;
}

/** A row of `app_packages` with the liveness of the node rolling it. */
interface PackageRow {
  app: string;
  sha256: string;
  autostart: boolean;
  rolling_node: string | null;
  rolling_up: boolean;
  halted: string | null;
}

const toPackage = (row: PackageRow): PlatformPackage => ({
  app: row.app,
  sha256: row.sha256,
  autostart: row.autostart,
  rollingNode: row.rolling_node,
  rollingUp: row.rolling_up,
  halted: row.halted,
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Keeps every node of a cluster on the platform's apps (docs/cluster.md, "Apps"):
 *
 * - an app installed on this node by hand (its row names no package) is packed (the same way
 *   on every node: one package, one sha256) and kept in the store as the platform's package;
 *   a new package starts a new roll (and ends the halt of the one it replaces);
 * - a package this node has not installed (or an older one) is rolled out node by node: this
 *   node takes the roll ({@link rollStep}), fetches the package, checks it against its
 *   sha256, installs it (a new app with the publisher's autostart, an update keeping this
 *   node's) and, when the app runs, waits until it is ready ({@link SyncedApps.install});
 *   then it lets the roll go to the next node. A package
 *   that does not install or get ready here is rolled back here and halts the roll: no other
 *   node installs it, and this node raises `app-rollout-halted` until a newer package or an
 *   uninstall replaces it;
 * - an app this node got from the platform whose package is gone (uninstalled on another
 *   node) is uninstalled here, unless it still hosts instances.
 *
 * Runs on its own timer, never inside a lease renewal: an install may take longer than a
 * lease. The roll is held by node id in the store, so a node lost mid-roll lets it go when
 * its lease runs out.
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
    const { store, nodeId, apps } = this.#options;
    const local = (
      await store.query<LocalRow>(
        'SELECT id, package_sha256, autostart, rolling_from FROM apps WHERE node_id = $1',
        [nodeId],
      )
    ).rows;
    for (const app of local) {
      // An app in the middle of an update here is published once it is over: a version that
      // does not get ready is rolled back here and never reaches the platform.
      if (app.package_sha256 !== null || this.#closed || apps.updating(app.id)) continue;
      if (app.rolling_from === null) await this.#publish(app.id, app.autostart);
      else await this.#settle(app.id, app.autostart, app.rolling_from);
    }
    const platform = (
      await store.query<PackageRow>(
        `SELECT p.app, p.sha256, p.autostart, p.rolling_node, p.halted,
           COALESCE(n.stopped_at IS NULL AND n.lease_until > now(), false) AS rolling_up
         FROM app_packages p LEFT JOIN nodes n ON n.node_id = p.rolling_node`,
      )
    ).rows.map(toPackage);
    this.#clearHalts(platform);
    const mine = new Map(local.map((app) => [app.id, app.package_sha256]));
    for (const entry of platform) {
      if (this.#closed) return;
      const have = mine.get(entry.app);
      if (rollStep(entry, have, nodeId, this.#failed) !== 'take' || apps.updating(entry.app)) {
        continue;
      }
      await this.#receive(entry, have ?? undefined); // not null: `own` is never taken
    }
    const published = new Set(platform.map((entry) => entry.app));
    for (const app of local) {
      if (this.#closed) return;
      if (app.package_sha256 !== null && !published.has(app.id)) await this.#drop(app.id);
    }
  }

  /**
   * Packs an app's installed folder as the platform's packages are packed (one content, one
   * sha256); undefined when it is too large to share.
   */
  async #pack(id: string): Promise<Buffer | undefined> {
    const { maxPackageBytes } = this.#options;
    const work = await mkdtemp(join(tmpdir(), 'appvisor-sync-'));
    try {
      const file = join(work, `${id}.tar`);
      await this.#options.apps.archive(id, file);
      const { size } = await stat(file);
      if (size > maxPackageBytes) {
        this.#options.logger.warn({ app: id, bytes: size }, 'an app too large to share');
        return undefined;
      }
      return await readFile(file);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async #publish(id: string, autostart: boolean, packed?: Buffer): Promise<void> {
    const { store, nodeId } = this.#options;
    const archive = packed ?? (await this.#pack(id));
    if (!archive) return;
    const hash = sha256(archive);
    // A new package ends the halt of the one it replaces. The roll's holder is kept: a node
    // still installing the older package finishes before the next node takes the new one.
    await store.query(
      `INSERT INTO app_packages (app, sha256, archive, autostart, from_node)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (app) DO UPDATE SET sha256 = excluded.sha256, archive = excluded.archive,
         autostart = excluded.autostart, from_node = excluded.from_node, updated_at = now(),
         halted = NULL
       WHERE app_packages.sha256 <> excluded.sha256`,
      [id, hash, archive, autostart, nodeId],
    );
    await this.#mark(id, hash);
  }

  /**
   * An app this node was installing from the platform when its manager stopped, since
   * installed again (the unfinished update finished or rolled back at the start): the
   * platform's package if that is what is there; the package it had before if the update was
   * rolled back, which is not published (that would roll every node back to it): this node
   * takes the roll again on a later pass. Anything else was installed by hand: published.
   */
  async #settle(id: string, autostart: boolean, rollingFrom: string): Promise<void> {
    const archive = await this.#pack(id);
    if (!archive) return;
    const hash = sha256(archive);
    const found = await this.#options.store.query<{ sha256: string }>(
      'SELECT sha256 FROM app_packages WHERE app = $1',
      [id],
    );
    if (interruptedInstall(hash, found.rows[0]?.sha256, rollingFrom) === 'by-hand') {
      await this.#publish(id, autostart, archive);
    } else {
      await this.#mark(id, hash);
    }
  }

  /**
   * Takes the roll of a package, installs it here and lets the roll go; halts the roll when
   * it does not install or get ready. `have` is the package this node had (undefined: none).
   */
  async #receive(entry: PlatformPackage, have: string | undefined): Promise<void> {
    const { store, events, logger, nodeId } = this.#options;
    const short = entry.sha256.slice(0, 12);
    // Taken only while it is free, this node's, or held by a node whose lease ran out; the
    // row lock makes one of two nodes asking at once the taker. The archive comes with it.
    const taken = await store.query<{ archive: Buffer }>(
      `UPDATE app_packages p SET rolling_node = $3
       WHERE p.app = $1 AND p.sha256 = $2 AND p.halted IS NULL
         AND (p.rolling_node IS NULL OR p.rolling_node = $3 OR NOT EXISTS (
           SELECT 1 FROM nodes n WHERE n.node_id = p.rolling_node
             AND n.stopped_at IS NULL AND n.lease_until > now()))
       RETURNING p.archive`,
      [entry.app, entry.sha256, nodeId],
    );
    const archive = taken.rows[0]?.archive;
    if (!archive) return; // taken by another node, halted or replaced meanwhile: a later pass
    logger.info({ app: entry.app, package: short }, 'installing the platform package here');
    const work = await mkdtemp(join(tmpdir(), 'appvisor-sync-'));
    try {
      if (sha256(archive) !== entry.sha256) {
        // Bytes that are not their package fail on every node alike: each node says so once,
        // and the roll is not this package's to halt.
        this.#failed.add(entry.sha256);
        const text = `${entry.app}: the platform's package ${short} could not be installed here: its sha256 does not match`;
        logger.warn({ app: entry.app }, 'a platform package whose sha256 does not match');
        events.record({ kind: 'app.sync-failed', severity: 'error', subject: entry.app, text });
        return;
      }
      const file = join(work, `${entry.app}.tar`);
      await writeFile(file, archive, { mode: 0o600 });
      // What it had, for a manager stopped in the install to tell it from an install by hand.
      if (have !== undefined) await this.#rollingFrom(entry.app, have);
      try {
        // A new app takes the publisher's autostart; an update keeps this node's (where an
        // app runs is each node's: docs/cluster.md, "Where an app runs").
        await this.#options.apps.install(file, {
          id: entry.app,
          ...(have === undefined ? { autostart: entry.autostart } : {}),
        });
      } catch (error) {
        await this.#halt(entry, have, error as Error);
        return;
      }
      await this.#mark(entry.app, entry.sha256);
      events.record({
        kind: 'app.synced',
        severity: 'info',
        subject: entry.app,
        text: `${entry.app} installed from the platform's package ${short}`,
      });
    } finally {
      await rm(work, { recursive: true, force: true });
      // Let go only once the app is ready here (or put back): the next node may start.
      await store.query(
        'UPDATE app_packages SET rolling_node = NULL WHERE app = $1 AND rolling_node = $2',
        [entry.app, nodeId],
      );
    }
  }

  /**
   * A package that did not install or get ready here (the install put the previous version
   * back): this node stays on the package it had, the roll stops for every node, and the
   * alarm says why. Not tried again here: a newer package ends the halt.
   */
  async #halt(entry: PlatformPackage, have: string | undefined, error: Error): Promise<void> {
    const { store, events, logger, alarms, nodeId } = this.#options;
    this.#failed.add(entry.sha256);
    // The previous version was installed again, which names no package: named as before, so
    // that it is not published as a new package (rolling every node back to it).
    if (have !== undefined) await this.#mark(entry.app, have);
    const reason = `node ${nodeId}: ${error.message}`;
    const halted = await store.query(
      `UPDATE app_packages SET halted = $3, rolling_node = NULL
       WHERE app = $1 AND sha256 = $2 RETURNING app`,
      [entry.app, entry.sha256, reason],
    );
    const text = `${entry.app}: the platform's package ${entry.sha256.slice(0, 12)} could not be installed here, ${have === undefined ? 'nothing installed' : 'the previous version put back'}: ${error.message}`;
    logger.warn({ err: error, app: entry.app }, 'the platform package could not be installed');
    events.record({
      kind: 'app.sync-failed',
      severity: 'error',
      subject: entry.app,
      text: halted.rowCount ? `${text}; the roll to the other nodes is halted` : text,
    });
    // Replaced meanwhile: the newer package rolls on, nothing to raise.
    if (halted.rowCount) {
      alarms.raise(
        rolloutHaltedAlarm,
        'error',
        `${text}; the other nodes keep their version until a newer package is installed`,
        entry.app,
      );
    }
  }

  /** Clears this node's halt alarms whose package was replaced or uninstalled. */
  #clearHalts(platform: readonly PlatformPackage[]): void {
    reconcileAlarms(this.#options.alarms, {
      owns: (alarm) => alarm.code === rolloutHaltedAlarm,
      holds: (alarm) => haltStillHolds(platform, alarm.subject),
      why: (alarm) =>
        platform.some((entry) => entry.app === alarm.subject)
          ? `a newer package of ${alarm.subject} replaced the halted one`
          : `${alarm.subject} was uninstalled from the platform`,
    });
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

  /** Names the package this node's app was installed from; no install of one under way. */
  async #mark(id: string, hash: string): Promise<void> {
    await this.#options.store.query(
      'UPDATE apps SET package_sha256 = $3, rolling_from = NULL WHERE node_id = $1 AND id = $2',
      [this.#options.nodeId, id, hash],
    );
  }

  async #rollingFrom(id: string, hash: string): Promise<void> {
    await this.#options.store.query(
      'UPDATE apps SET rolling_from = $3 WHERE node_id = $1 AND id = $2',
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
