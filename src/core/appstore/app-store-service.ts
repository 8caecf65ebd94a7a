import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { reconcileAlarms, type AlarmRaiser } from '../alarms/index.js';
import type { AppService, AppStatus } from '../apps/index.js';
import { checkAppId } from '../catalog/index.js';
import type { BackupService } from '../backup/index.js';
import { AppvisorError, errorCatalog, type ErrorCode } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { InstanceService } from '../instances/index.js';
import type { Store } from '../store/index.js';
import { downloadPackage, fetchText, type FetchLimits } from './download.js';
import { packageStatement, parsePublicKey, verifyBytes } from './signing.js';
import { StoreSources, type StoreSource, type TrustedSource } from './sources.js';
import { parseIndex, type IndexApp, type IndexVersion, type StoreIndex } from './store-index.js';

/** A version as the app store lists it. */
export interface StoreVersionView {
  version: string;
  build: number;
  label: string;
  size: number;
  /** Whether its signature is one of the store's trusted keys'. */
  signed: boolean;
}

/** What is installed of an app. */
export interface InstalledView {
  version: string | null;
  /** app.json's build, or the build the app store installed; null when unknown. */
  build: number | null;
  /** The app store it was installed from, when it was. */
  store: string | null;
}

/** An app as the app stores offer it. */
export interface StoreAppView {
  id: string;
  title: string;
  description: string;
  /** The first configured store that lists it. */
  store: string;
  /** Newest (highest build) first. */
  versions: StoreVersionView[];
  latest: StoreVersionView;
  installed: InstalledView | null;
  /** Installed, and the store has a higher build. */
  updateAvailable: boolean;
}

/** A store that could not be read. */
export interface StoreProblem {
  store: string;
  code: string;
  message: string;
}

/** `GET /store/apps`. */
export interface StoreListing {
  apps: StoreAppView[];
  errors: StoreProblem[];
}

/** An update the last check found. */
export interface AvailableUpdate {
  app: string;
  store: string;
  installed: InstalledView;
  available: StoreVersionView;
}

/** The result of the last update check. */
export interface UpdateCheck {
  checkedAt: string | null;
  updates: AvailableUpdate[];
  errors: StoreProblem[];
}

/** The steps of an install or update, in order. */
export type OperationPhase =
  'downloading' | 'backing-up' | 'installing' | 'waiting' | 'rolling-back' | 'done' | 'failed';

/** An install or update under way (or just finished): what the UI shows as progress. */
export interface StoreOperation {
  app: string;
  action: 'install' | 'update';
  version: string;
  build: number;
  phase: OperationPhase;
  /** Bytes of the package downloaded so far, and its size. */
  received: number;
  total: number;
  startedAt: string;
  finishedAt: string | null;
  /** Set when it failed; `rolledBack` when the previous version was put back. */
  error: { code: string; message: string } | null;
  rolledBack: boolean;
}

/** The answer of an install or update. */
export interface StoreResult {
  app: string;
  /** False when nothing had to change (already at that build). */
  changed: boolean;
  from: { version: string | null; build: number | null } | null;
  to: { version: string; build: number };
  status: AppStatus;
}

/** Options of {@link AppStoreService}. */
export interface AppStoreServiceOptions {
  store: Store;
  apps: AppService;
  instances: InstanceService;
  backups: BackupService;
  alarms: AlarmRaiser;
  events: EventLog;
  logger: Logger;
  nodeId: string;
  /** Where downloads and rollback packages are kept while an operation runs (`<data>/apps`). */
  workDir: string;
  fetch: FetchLimits;
  maxIndexBytes: number;
  maxPackageBytes: number;
  /** How long an updated app may take until it and every enabled instance are ready. */
  updateTimeoutMs: number;
  /** Period of the update check; 0: never (only on demand). */
  checkPeriodMs: number;
}

interface Resolved {
  source: TrustedSource;
  app: IndexApp;
  version: IndexVersion;
}

/** What store_installs keeps of an app installed from a store. */
interface InstallRecord {
  app: string;
  store: string;
  version: string;
  build: number;
  sha256: string;
  /** The trusted key that signed the package; null: unsigned. */
  key: string | null;
}

/**
 * An update under way, kept in the store (`store_updates`) at each step, so that a manager
 * killed during it finishes it, or its rollback, at the next start.
 */
interface UpdateJournal {
  app: string;
  /**
   * `backing-up`: the installed version is still the previous one; `installing`: the new one
   * may be in place (it replaces the previous one in one rename), then waited for;
   * `rolling-back`: the previous one is being put back.
   */
  phase: 'backing-up' | 'installing' | 'rolling-back';
  from: { version: string | null; build: number | null };
  /** What store_installs gets once the update succeeds. */
  target: InstallRecord;
  /** Whether the app ran before the update: it is waited for, and runs again after a rollback. */
  wasRunning: boolean;
  /** The previous version as a package (`<workDir>/.update-…`), to roll back to. */
  previous: string;
  /** The backups made before the update, which a rollback restores. */
  backups: { file: string; instance: string }[];
}

/** Names of the previous versions an update keeps (not removed at start while journaled). */
const keptPrefix = '.update-';

const operationKept = 10 * 60_000;
/** How long an updated app must stay ready, the same process, to count as ready. */
const settleMs = 1500;

/**
 * Installs and updates apps from app stores (docs/app-store.md): static `apps.json` indexes
 * with Ed25519 signatures, packages verified by sha256 while they download, updates that back
 * the instances up first and roll back — files, databases and instance folders — when the new
 * version does not get every instance ready in time.
 */
export class AppStoreService implements Component {
  readonly name = 'appstore';
  readonly sources: StoreSources;
  readonly #options: AppStoreServiceOptions;
  readonly #queue = new KeyedQueue();
  readonly #operations = new Map<string, StoreOperation>();
  #check: UpdateCheck = { checkedAt: null, updates: [], errors: [] };
  /** Counts changes of the store list: a read begun before one does not say what is offered. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<UpdateCheck> | undefined;

  constructor(options: AppStoreServiceOptions) {
    this.#options = options;
    this.sources = new StoreSources(options.store, () => {
      this.#sourcesChanged();
    });
  }

  async start(): Promise<void> {
    const journals = await this.#journals();
    const kept = new Set(journals.map((journal) => basename(journal.previous)));
    // Leftovers of a run that ended during a download or an update (but what the unfinished
    // updates roll back to).
    const entries = await readdir(this.#options.workDir).catch(() => [] as string[]);
    for (const entry of entries) {
      if (entry.startsWith('.appstore-') || (entry.startsWith(keptPrefix) && !kept.has(entry))) {
        await rm(join(this.#options.workDir, entry), { force: true, recursive: true });
      }
    }
    // Updates a killed manager left unfinished: finished or rolled back, in the background
    // (waiting for the app to get ready must not hold the start up), each in its app's turn.
    for (const journal of journals) {
      void this.#queue
        .run(journal.app, () => this.#resume(journal))
        .catch((error: unknown) => {
          this.#options.logger.error(
            { err: error, app: journal.app },
            'finishing an update failed',
          );
        });
    }
    // The alarm of an app uninstalled since its update failed would never be cleared.
    const installed = new Set((await this.#options.apps.list()).map((app) => app.id));
    reconcileAlarms(this.#options.alarms, {
      owns: (alarm) => alarm.code === 'update-failed',
      holds: (alarm) => installed.has(alarm.subject),
      why: (alarm) => `${alarm.subject} is no longer installed`,
    });
    if (this.#options.checkPeriodMs > 0) {
      // The first check soon after the start, not in it: a slow store must not delay the boot.
      this.#timer = setTimeout(() => {
        this.#periodicCheck();
      }, 5_000);
      this.#timer.unref();
    }
  }

  #periodicCheck(): void {
    this.check().then(
      (result) => {
        if (result.updates.length > 0) {
          this.#options.logger.info(
            { updates: result.updates.map((u) => `${u.app} ${u.available.version}`) },
            'app updates available',
          );
        }
      },
      (error: unknown) => {
        this.#options.logger.warn({ err: error }, 'update check failed');
      },
    );
    this.#timer = setTimeout(() => {
      this.#periodicCheck();
    }, this.#options.checkPeriodMs);
    this.#timer.unref();
  }

  // --- reading the stores -----------------------------------------------------------------

  /** Fetches and verifies one store's index. */
  async #index(source: TrustedSource): Promise<IndexApp[]> {
    const { fetch: limits, maxIndexBytes } = this.#options;
    const text = await fetchText('the index', source.url, maxIndexBytes, limits);
    let verified = false;
    if (source.publicKeys.length > 0 || !source.allowUnsigned) {
      const sigUrl = new URL(source.url);
      sigUrl.pathname += '.sig';
      const signature = await fetchText('the index signature', sigUrl.href, 4096, limits).catch(
        (error: unknown) => {
          if (source.allowUnsigned) return '';
          throw new AppvisorError(
            'SIGNATURE_INVALID',
            `app store ${source.name}: its index is not signed (${(error as Error).message})`,
          );
        },
      );
      const valid =
        signature !== '' && verifyBytes(Buffer.from(text), signature, source.publicKeys);
      if (!valid && !source.allowUnsigned) {
        throw new AppvisorError(
          'SIGNATURE_INVALID',
          `app store ${source.name}: the index signature is not one of the trusted keys'`,
        );
      }
      verified = valid;
      if (!valid) {
        this.#options.logger.warn(
          { store: source.name },
          'the app store index is not signed by a trusted key; used because unsigned is allowed',
        );
      }
    }
    const index = parseIndex(text, new URL(source.url), source.name);
    await this.#checkFresh(source, index, verified);
    return index.apps;
  }

  /**
   * Refuses an index past its `expires` time, and a signed one older than the newest seen from
   * this store (the newest `published` is kept per store and URL), as TUF's timestamp role
   * does: a signature alone would let anyone replay an old index with its old, vulnerable
   * builds. A signed index must give both times. An index not verified by a trusted key (a
   * store that allows unsigned ones) proves nothing, so its `published` is not remembered.
   */
  async #checkFresh(source: TrustedSource, index: StoreIndex, verified: boolean): Promise<void> {
    const name = source.name;
    if (index.expires !== undefined && Date.parse(index.expires) <= Date.now()) {
      throw new AppvisorError(
        'APPSTORE_INDEX_EXPIRED',
        `app store ${name}: its index expired at ${index.expires}; the store must publish a fresh one`,
      );
    }
    if (!verified) return;
    if (index.published === undefined || index.expires === undefined) {
      throw new AppvisorError(
        'APPSTORE_INDEX_INVALID',
        `app store ${name}: its signed index gives no published and expires times, so an old one could be replayed; the store must rebuild it (appvisor store build or store sign)`,
      );
    }
    const { store, nodeId } = this.#options;
    const published = new Date(index.published);
    const seen = await store.query<{ published: Date }>(
      'SELECT published FROM store_index_seen WHERE node_id = $1 AND store = $2 AND url = $3',
      [nodeId, name, source.url],
    );
    const newest = seen.rows[0]?.published;
    if (newest && published.getTime() < newest.getTime()) {
      throw new AppvisorError(
        'APPSTORE_INDEX_REPLAYED',
        `app store ${name}: its index was published at ${published.toISOString()}, before the one already seen (${newest.toISOString()}); an old index is being served again`,
      );
    }
    await store.query(
      `INSERT INTO store_index_seen (node_id, store, url, published) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id, store, url)
       DO UPDATE SET published = GREATEST(store_index_seen.published, excluded.published)`,
      [nodeId, name, source.url, published],
    );
  }

  /** Every store's apps; a store that cannot be read is a problem, not a failure of the rest. */
  async #read(): Promise<{
    found: { source: TrustedSource; apps: IndexApp[] }[];
    errors: StoreProblem[];
  }> {
    const sources = await this.sources.trusted();
    const results = await Promise.allSettled(sources.map((source) => this.#index(source)));
    const found: { source: TrustedSource; apps: IndexApp[] }[] = [];
    const errors: StoreProblem[] = [];
    results.forEach((result, i) => {
      const source = sources[i]!;
      if (result.status === 'fulfilled') found.push({ source, apps: result.value });
      else errors.push(problemOf(source.name, result.reason));
    });
    return { found, errors };
  }

  #signed(source: TrustedSource, app: IndexApp, version: IndexVersion): boolean {
    return this.#signedBy(source, app, version) !== null;
  }

  /** The trusted key (its text) that signed the package; null when none did. */
  #signedBy(source: TrustedSource, app: IndexApp, version: IndexVersion): string | null {
    const signature = version.signature;
    if (!signature) return null;
    const statement = packageStatement({
      id: app.id,
      version: version.version,
      build: version.build,
      sha256: version.sha256,
      size: version.size,
    });
    const at = source.publicKeys.findIndex((key) => verifyBytes(statement, signature, [key]));
    return at < 0 ? null : normalizeKey(source.keys[at]!);
  }

  #versionView(source: TrustedSource, app: IndexApp, version: IndexVersion): StoreVersionView {
    return {
      version: version.version,
      build: version.build,
      label: version.label,
      size: version.size,
      signed: this.#signed(source, app, version),
    };
  }

  async #installed(): Promise<Map<string, InstalledView>> {
    const apps = await this.#options.apps.list();
    const rows = await this.#options.store.query<{
      app: string;
      store: string;
      version: string;
      build: string;
    }>('SELECT app, store, version, build FROM store_installs WHERE node_id = $1', [
      this.#options.nodeId,
    ]);
    const byApp = new Map(rows.rows.map((row) => [row.app, row]));
    const installed = new Map<string, InstalledView>();
    for (const summary of apps) {
      const status = await this.#options.apps.status(summary.id).catch(() => undefined);
      if (!status) continue;
      const row = byApp.get(summary.id);
      // The row speaks of this install only while the version is the one it installed.
      const fromStore = row && row.version === status.version ? row : undefined;
      installed.set(summary.id, {
        version: status.version,
        build: status.build ?? (fromStore ? Number(fromStore.build) : null),
        store: fromStore?.store ?? null,
      });
    }
    return installed;
  }

  /**
   * The apps of every configured store, with what is installed of each. As it reads every
   * store, it is an update check too: `appvisor status` says what it found.
   */
  async list(): Promise<StoreListing> {
    const generation = this.#generation;
    const [{ found, errors }, installed] = await Promise.all([this.#read(), this.#installed()]);
    const apps = new Map<string, StoreAppView>();
    for (const { source, apps: listed } of found) {
      for (const app of listed) {
        const mine = installed.get(app.id);
        // An app listed by several stores is shown from the one it came from, else the first.
        const existing = apps.get(app.id);
        if (existing && !(mine?.store === source.name && existing.store !== source.name)) continue;
        const versions = app.versions.map((v) => this.#versionView(source, app, v));
        const latest = versions[0]!;
        apps.set(app.id, {
          id: app.id,
          title: app.title,
          description: app.description,
          store: source.name,
          versions,
          latest,
          installed: mine ?? null,
          // Only from the store it is pinned to: any other would need --switch-store.
          updateAvailable: mine?.store === source.name && isNewer(latest, mine),
        });
      }
    }
    const listing = { apps: [...apps.values()].sort((a, b) => a.id.localeCompare(b.id)), errors };
    // Read before the list of stores changed: not what they offer now.
    if (generation === this.#generation) {
      this.#check = {
        checkedAt: new Date().toISOString(),
        updates: listing.apps
          .filter((app) => app.updateAvailable && app.installed)
          .map((app) => ({
            app: app.id,
            store: app.store,
            installed: app.installed!,
            available: app.latest,
          })),
        errors,
      };
    }
    return listing;
  }

  /**
   * A store was added, changed or removed: the last check no longer says what is offered
   * ("not checked yet" until a new one, begun at once, has read the stores).
   */
  #sourcesChanged(): void {
    this.#generation++;
    this.#check = { checkedAt: null, updates: [], errors: [] };
    this.#checking = undefined;
    this.check().catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'update check failed');
    });
  }

  /** One app as the stores offer it; APPSTORE_APP_NOT_FOUND when none lists it. */
  async show(id: string): Promise<StoreAppView> {
    checkAppId(id);
    const listing = await this.list();
    const found = listing.apps.find((app) => app.id === id);
    if (found) return found;
    throw notListed(id, listing.errors);
  }

  async #resolve(
    id: string,
    options: { version?: string | undefined; store?: string | undefined },
    preferred: string | null,
  ): Promise<Resolved> {
    const { found, errors } = await this.#read();
    // The store asked for alone; else the one the app came from first, then in their order.
    const order = [
      ...found.filter((f) => f.source.name === preferred),
      ...found.filter((f) => f.source.name !== preferred),
    ].filter((f) => options.store === undefined || f.source.name === options.store);
    if (options.store !== undefined && !found.some((f) => f.source.name === options.store)) {
      const problem = errors.find((e) => e.store === options.store);
      if (problem) throw notListed(id, [problem]);
      throw new AppvisorError('APPSTORE_NOT_FOUND', `no app store named ${options.store}`);
    }
    for (const { source, apps } of order) {
      const app = apps.find((a) => a.id === id);
      if (!app) continue;
      const version =
        options.version === undefined
          ? app.versions[0]!
          : app.versions.find(
              (v) => v.version === options.version || String(v.build) === options.version,
            );
      if (!version) {
        throw new AppvisorError(
          'APPSTORE_APP_NOT_FOUND',
          `app store ${source.name} has no version ${options.version} of ${id} (it has ${app.versions.map((v) => v.version).join(', ')})`,
        );
      }
      return { source, app, version };
    }
    throw notListed(id, errors);
  }

  /** Refuses a package whose signature is not a trusted key's, unless the store allows it. */
  #requireSigned({ source, app, version }: Resolved): void {
    if (this.#signed(source, app, version)) return;
    if (source.allowUnsigned) {
      this.#options.logger.warn(
        { app: app.id, version: version.version, store: source.name },
        'installing a package without a valid signature: the store allows unsigned packages',
      );
      return;
    }
    throw new AppvisorError(
      'SIGNATURE_INVALID',
      version.signature
        ? `${app.id} ${version.version} from ${source.name}: the signature is not one of the trusted keys'`
        : `${app.id} ${version.version} from ${source.name} is not signed`,
    );
  }

  // --- operations -------------------------------------------------------------------------

  /** Installs, or updates, or recent ones (finished less than 10 minutes ago). */
  operations(): StoreOperation[] {
    const now = Date.now();
    for (const [app, op] of this.#operations) {
      if (op.finishedAt && now - Date.parse(op.finishedAt) > operationKept) {
        this.#operations.delete(app);
      }
    }
    return [...this.#operations.values()].map((op) => ({ ...op }));
  }

  #begin(
    action: StoreOperation['action'],
    resolved: Pick<Resolved, 'version'> & { app: { id: string } },
    phase: OperationPhase = 'downloading',
  ): StoreOperation {
    const op: StoreOperation = {
      app: resolved.app.id,
      action,
      version: resolved.version.version,
      build: resolved.version.build,
      phase,
      received: 0,
      total: resolved.version.size,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      error: null,
      rolledBack: false,
    };
    this.#operations.set(op.app, op);
    return op;
  }

  #finish(op: StoreOperation, error?: unknown): void {
    op.finishedAt = new Date().toISOString();
    if (error === undefined) op.phase = 'done';
    else {
      op.phase = 'failed';
      op.error = problemOf('', error);
    }
  }

  /** Downloads the resolved package into the work folder; the caller removes the file. */
  async #download(resolved: Resolved, op: StoreOperation): Promise<string> {
    const { version } = resolved;
    if (version.size > this.#options.maxPackageBytes) {
      throw new AppvisorError(
        'PACKAGE_INVALID',
        `${resolved.app.id} ${version.version} is ${version.size} bytes; at most ${this.#options.maxPackageBytes} are accepted`,
      );
    }
    const file = join(this.#options.workDir, `.appstore-${randomBytes(6).toString('hex')}`);
    await downloadPackage(version.url, file, version, this.#options.fetch, (received) => {
      op.received = received;
    });
    return file;
  }

  #recordOf(resolved: Resolved): InstallRecord {
    return {
      app: resolved.app.id,
      store: resolved.source.name,
      version: resolved.version.version,
      build: resolved.version.build,
      sha256: resolved.version.sha256,
      key: this.#signedBy(resolved.source, resolved.app, resolved.version),
    };
  }

  /** Records what is installed from a store; an update's journal goes in the same step. */
  async #record(record: InstallRecord): Promise<void> {
    await this.#options.store.transaction(async (query) => {
      await query(
        `INSERT INTO store_installs (node_id, app, store, version, build, sha256, key, installed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         ON CONFLICT (node_id, app) DO UPDATE SET store = excluded.store,
           version = excluded.version, build = excluded.build, sha256 = excluded.sha256,
           key = excluded.key, installed_at = now()`,
        [
          this.#options.nodeId,
          record.app,
          record.store,
          record.version,
          record.build,
          record.sha256,
          record.key,
        ],
      );
      await query('DELETE FROM store_updates WHERE node_id = $1 AND app = $2', [
        this.#options.nodeId,
        record.app,
      ]);
    });
    this.#check.updates = this.#check.updates.filter((u) => u.app !== record.app);
  }

  // --- the journal of updates under way -----------------------------------------------------

  async #journal(journal: UpdateJournal): Promise<void> {
    await this.#options.store.query(
      `INSERT INTO store_updates (node_id, app, phase, journal) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id, app)
       DO UPDATE SET phase = excluded.phase, journal = excluded.journal, updated_at = now()`,
      [this.#options.nodeId, journal.app, journal.phase, JSON.stringify(journal)],
    );
  }

  async #dropJournal(app: string): Promise<void> {
    await this.#options.store.query('DELETE FROM store_updates WHERE node_id = $1 AND app = $2', [
      this.#options.nodeId,
      app,
    ]);
  }

  /** The journal's kept package: only ever a file of the work folder, whatever the row says. */
  #kept(journal: UpdateJournal): string {
    const name = basename(journal.previous);
    if (!name.startsWith(keptPrefix)) {
      throw new AppvisorError('INTERNAL', `not a kept package: ${journal.previous}`);
    }
    return join(this.#options.workDir, name);
  }

  async #journals(): Promise<UpdateJournal[]> {
    const result = await this.#options.store.query<{ journal: UpdateJournal }>(
      'SELECT journal FROM store_updates WHERE node_id = $1 ORDER BY started_at',
      [this.#options.nodeId],
    );
    return result.rows.map((row) => row.journal);
  }

  /**
   * Finishes an update that a killed manager left: before the new version was in place, the
   * app is left (or started again) as it was; with the new version in place, it is waited for
   * as the update would have, and kept or rolled back; a rollback under way is done again.
   */
  async #resume(journal: UpdateJournal): Promise<void> {
    const { apps, events, logger } = this.#options;
    const { app: id, target } = journal;
    const op = this.#begin(
      'update',
      {
        app: { id },
        version: { version: target.version, build: target.build, size: 0 } as IndexVersion,
      },
      journal.phase === 'rolling-back' ? 'rolling-back' : 'waiting',
    );
    logger.warn(
      { app: id, phase: journal.phase },
      'finishing an update the manager was stopped in',
    );
    let failure: unknown = undefined;
    try {
      const status = await apps.status(id);
      const swapped =
        status.version === target.version && (status.build ?? target.build) === target.build;
      if (journal.phase === 'rolling-back') {
        await this.#rollBack(
          journal,
          `${id} ${target.version}: the manager was stopped while rolling the update back`,
          op,
        );
      }
      if (journal.phase === 'backing-up' || !swapped) {
        const text = `${id}: the update to ${target.version} was cut off by a stop of the manager before it was installed; ${journal.from.version ?? 'the previous version'} stays`;
        events.record({ kind: 'app.update-failed', severity: 'warning', subject: id, text });
        if (journal.wasRunning && (status.state === 'stopped' || status.state === 'fatal')) {
          await apps.startApp(id);
        }
        failure = new AppvisorError('UPDATE_FAILED', text);
        return;
      }
      if (journal.wasRunning) {
        if (status.state === 'stopped' || status.state === 'fatal') await apps.startApp(id);
        const failure = await this.#waitReady(id, this.#options.updateTimeoutMs);
        if (failure !== null) {
          await this.#rollBack(
            journal,
            `${id} ${target.version} did not get ready after a restart of the manager: ${failure}`,
            op,
          );
        }
      }
      await this.#succeeded(target, journal.from, ' (finished after a restart of the manager)');
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await this.#dropJournal(id).catch(() => undefined);
      await rm(this.#kept(journal), { force: true }).catch(() => undefined);
      // Finished only once the journal and the kept package are gone.
      this.#finish(op, failure);
    }
  }

  /** An update is done: recorded (its journal dropped), its alarm cleared, an event. */
  async #succeeded(
    target: InstallRecord,
    from: { version: string | null },
    note = '',
  ): Promise<void> {
    const { app: id } = target;
    await this.#record(target);
    this.#options.alarms.clear('update-failed', `${id} updated to ${target.version}`, id);
    this.#options.events.record({
      kind: 'app.updated',
      severity: 'info',
      subject: id,
      text: `${id} updated from ${from.version ?? '(no version)'} to ${target.version} (build ${target.build}) from app store ${target.store}${note}`,
    });
  }

  /**
   * Installs an app from the stores (the newest build, or `version`: a version or a build
   * number). An app that is installed already is updated instead ({@link update}).
   */
  async install(
    id: string,
    options: {
      version?: string;
      store?: string;
      autostart?: boolean;
      force?: boolean;
      switchStore?: boolean;
    } = {},
  ): Promise<StoreResult> {
    checkAppId(id);
    const installed = (await this.#installed()).get(id);
    if (installed) return this.update(id, options);
    const resolved = await this.#resolve(id, options, null);
    this.#requireSigned(resolved);
    return this.#queue.run(id, async () => {
      // Installed meanwhile (another install at once): that one did the work.
      const now = (await this.#installed()).get(id);
      if (now) {
        return {
          app: id,
          changed: false,
          from: null,
          to: { version: now.version ?? '', build: now.build ?? resolved.version.build },
          status: await this.#options.apps.status(id),
        };
      }
      const op = this.#begin('install', resolved);
      let file: string | undefined;
      try {
        file = await this.#download(resolved, op);
        op.phase = 'installing';
        const status = await this.#options.apps.install(file, {
          id,
          autostart: options.autostart ?? false,
          expect: { version: resolved.version.version, build: resolved.version.build },
        });
        await this.#record(this.#recordOf(resolved));
        this.#options.events.record({
          kind: 'app.store-installed',
          severity: 'info',
          subject: id,
          text: `${id} ${resolved.version.version} (build ${resolved.version.build}) installed from app store ${resolved.source.name}`,
        });
        this.#finish(op);
        return {
          app: id,
          changed: true,
          from: null,
          to: { version: resolved.version.version, build: resolved.version.build },
          status,
        };
      } catch (error) {
        this.#finish(op, error);
        throw error;
      } finally {
        if (file) await rm(file, { force: true });
      }
    });
  }

  /**
   * Updates an installed app to the newest build of its store, or to `version`. A lower build
   * than the installed one is refused (DOWNGRADE_REFUSED) and the same build is left alone,
   * unless `force`. The app's instances are backed up first; when the new version does not
   * have the app and every enabled instance ready within the update timeout, the previous
   * version is installed again and every instance restored from that backup (UPDATE_FAILED,
   * alarm `update-failed`).
   */
  async update(
    id: string,
    options: { version?: string; store?: string; force?: boolean; switchStore?: boolean } = {},
  ): Promise<StoreResult> {
    // Whole, under the app's turn: a second update at once compares with what the first left.
    return this.#queue.run(id, () => this.#update(id, options));
  }

  async #update(
    id: string,
    options: { version?: string; store?: string; force?: boolean; switchStore?: boolean },
  ): Promise<StoreResult> {
    const before = await this.#options.apps.status(id);
    const installed = (await this.#installed()).get(id) ?? {
      version: before.version,
      build: before.build,
      store: null,
    };
    const pinnedKey = await this.#checkPin(id, installed.store, options);
    const resolved = await this.#resolve(
      id,
      options.switchStore ? options : { ...options, store: installed.store ?? undefined },
      installed.store,
    );
    const target = resolved.version;
    const from = { version: installed.version, build: installed.build };
    const to = { version: target.version, build: target.build };
    if (!options.force && installed.build !== null) {
      if (target.build === installed.build) {
        return { app: id, changed: false, from, to, status: before };
      }
      if (target.build < installed.build) {
        throw new AppvisorError(
          'DOWNGRADE_REFUSED',
          `${id} build ${installed.build} (${installed.version ?? 'no version'}) is installed; ${target.version} is build ${target.build}, older (use --force to downgrade)`,
        );
      }
    }
    this.#requireSigned(resolved);
    // Signed by another trusted key, or unsigned in a store that allows that: the pin holds.
    if (pinnedKey !== null && !options.switchStore) {
      const key = this.#signedBy(resolved.source, resolved.app, resolved.version);
      if (key !== pinnedKey) {
        throw new AppvisorError(
          'APPSTORE_PINNED',
          `${id} was installed with a package signed by the key ${pinnedKey} of app store ${installed.store ?? ''}; ${resolved.version.version} is ${key === null ? 'not signed by a trusted key' : `signed by another key (${key})`}: confirm the change of key with --switch-store`,
        );
      }
    }
    const op = this.#begin('update', resolved);
    const work: string[] = [];
    let failure: unknown = undefined;
    try {
      const file = await this.#download(resolved, op);
      work.push(file);
      const status = await this.#replace(id, resolved, file, op, work);
      await this.#succeeded(this.#recordOf(resolved), from);
      return { app: id, changed: true, from, to, status };
    } catch (error) {
      failure = error;
      // Failed or rolled back while the manager ran: nothing is left to finish.
      await this.#dropJournal(id).catch(() => undefined);
      throw error;
    } finally {
      // Finished only once its files are gone: a finished operation leaves nothing behind.
      for (const file of work) await rm(file, { force: true }).catch(() => undefined);
      this.#finish(op, failure);
    }
  }

  /**
   * An installed app is pinned to the store it came from (and the key that signed it): its
   * new code inherits the app's user, data and instance credentials, so only that store may
   * replace it. When that store cannot be read, the update fails rather than fall back to
   * another store listing the same id. Another store, or replacing an app installed from a
   * file, needs `switchStore`. Answers the pinned key (null: none, or switching).
   */
  async #checkPin(
    id: string,
    pinned: string | null,
    options: { store?: string | undefined; switchStore?: boolean | undefined },
  ): Promise<string | null> {
    if (options.switchStore) return null;
    if (pinned === null) {
      throw new AppvisorError(
        'APPSTORE_PINNED',
        `${id} is installed, but not from an app store (from a package file, or since changed by one): installing it from an app store replaces it; confirm with --switch-store`,
      );
    }
    if (options.store !== undefined && options.store !== pinned) {
      throw new AppvisorError(
        'APPSTORE_PINNED',
        `${id} was installed from app store ${pinned}; installing it from ${options.store} gives that store's code its data and credentials: confirm with --switch-store`,
      );
    }
    const row = await this.#options.store.query<{ key: string | null }>(
      'SELECT key FROM store_installs WHERE node_id = $1 AND app = $2 AND store = $3',
      [this.#options.nodeId, id, pinned],
    );
    const key = row.rows[0]?.key ?? null;
    // A key no longer in the store's list cannot match; compare in one text form.
    return key === null ? null : normalizeKey(key);
  }

  /**
   * The update proper, once the package is here: backup, install, wait, or roll back. Each
   * step is journaled first, so that a manager killed in it finishes it at the next start.
   */
  async #replace(
    id: string,
    resolved: Resolved,
    file: string,
    op: StoreOperation,
    work: string[],
  ): Promise<AppStatus> {
    const { apps, backups } = this.#options;
    const before = await apps.status(id);
    const wasRunning = before.state !== 'stopped' && before.state !== 'fatal';
    const previous = join(
      this.#options.workDir,
      `${keptPrefix}${id}-${randomBytes(6).toString('hex')}.tar`,
    );
    work.push(previous);
    await apps.archiveInstalled(id, previous);
    const journal: UpdateJournal = {
      app: id,
      phase: 'backing-up',
      from: { version: before.version, build: before.build },
      target: this.#recordOf(resolved),
      wasRunning,
      previous,
      backups: [],
    };
    await this.#journal(journal);
    op.phase = 'backing-up';
    const saved = await backups.backupApp(id, `before the update to ${resolved.version.version}`);
    journal.backups = saved.flatMap((entry) =>
      entry.instance === null ? [] : [{ file: entry.file, instance: entry.instance }],
    );
    journal.phase = 'installing';
    await this.#journal(journal);
    op.phase = 'installing';
    const expect = { version: resolved.version.version, build: resolved.version.build };
    // A package that cannot be installed leaves the previous version as it was (apps.install).
    // Autostart is kept; the app runs afterwards if it ran or autostart is on, and is then
    // watched until ready.
    const status = await apps.install(file, { id, expect, skipUpdateHook: true });
    if (!wasRunning && status.state === 'stopped') return status;
    op.phase = 'waiting';
    const failure = await this.#waitReady(id, this.#options.updateTimeoutMs);
    if (failure === null) return apps.status(id);
    return this.#rollBack(
      journal,
      `${id} ${resolved.version.version} did not get ready: ${failure}`,
      op,
    );
  }

  /**
   * Puts the previous version back, running again if it ran, and every instance as the backup
   * made before the update has it; raises `update-failed` and throws UPDATE_FAILED.
   */
  async #rollBack(journal: UpdateJournal, reason: string, op: StoreOperation): Promise<never> {
    const { apps, logger } = this.#options;
    const id = journal.app;
    const was = journal.from.version ?? 'the previous version';
    op.phase = 'rolling-back';
    op.rolledBack = true;
    journal.phase = 'rolling-back';
    await this.#journal(journal);
    logger.error({ app: id, version: journal.target.version }, `${reason}; rolling back`);
    try {
      const status = await apps.install(this.#kept(journal), { id, skipUpdateHook: true });
      if (journal.wasRunning && (status.state === 'stopped' || status.state === 'fatal')) {
        await apps.startApp(id);
      }
      await this.#restoreAll(journal.backups);
      await this.#waitReady(id, this.#options.updateTimeoutMs);
    } catch (error) {
      const text = `${reason}; the rollback to ${was} failed too: ${(error as Error).message}`;
      this.#options.alarms.raise('update-failed', 'critical', text, id);
      throw new AppvisorError('UPDATE_FAILED', text, { cause: error });
    }
    const text = `${reason}; rolled back to ${was}, instances restored from the backup made before the update`;
    this.#options.alarms.raise('update-failed', 'error', text, id);
    this.#options.events.record({
      kind: 'app.update-failed',
      severity: 'error',
      subject: id,
      text,
    });
    throw new AppvisorError('UPDATE_FAILED', text);
  }

  /** Puts every instance back as the backup made before the update has it. */
  async #restoreAll(saved: { file: string; instance: string }[]): Promise<void> {
    for (const entry of saved) {
      await this.#options.backups.restore(entry.file, { into: entry.instance });
    }
  }

  /**
   * Waits until the app runs and every enabled instance of it is ready; null then, else what
   * is wrong: at once when the app ended (backoff, stopped, fatal) or an instance failed, else
   * when the time is up.
   */
  async #waitReady(id: string, timeoutMs: number): Promise<string | null> {
    const until = Date.now() + timeoutMs;
    // Ready only once it stays so, the same process, for a moment: an app that is ready as
    // soon as it is spawned (no instances) would otherwise pass even when it exits at once.
    let steady: { since: number; pid: number | null } | undefined;
    for (;;) {
      const status = await this.#options.apps.status(id);
      const waiting = this.#options.instances
        .list({ app: id })
        .filter((view) => view.enabled && view.state !== 'ready');
      if (status.state === 'running' && waiting.length === 0) {
        if (steady?.pid !== status.pid) steady = { since: Date.now(), pid: status.pid };
        if (Date.now() - steady.since >= settleMs) return null;
        await sleep(200);
        continue;
      }
      steady = undefined;
      if (status.state === 'fatal') return 'the app stopped for good (fatal) after failed starts';
      const exit = status.lastExit;
      const ended = exit ? ` (last exit ${exit.code ?? exit.signal ?? exit.kind})` : '';
      if (status.state === 'backoff' || status.state === 'stopped') {
        return `the app ended${ended} and is ${status.state}`;
      }
      const failed = this.#options.instances
        .list({ app: id })
        .filter((view) => view.enabled && view.state === 'failed');
      if (failed.length > 0) {
        return `instance(s) ${failed.map((v) => `${v.id} failed${v.error ? ` (${v.error})` : ''}`).join(', ')}`;
      }
      if (Date.now() >= until) {
        if (status.state !== 'running') {
          return `the app is ${status.state} after ${timeoutMs / 1000} s${ended}, ${status.restarts} restart(s)`;
        }
        return `instance(s) ${waiting.map((v) => `${v.id} (${v.state})`).join(', ')} not ready after ${timeoutMs / 1000} s`;
      }
      await sleep(200);
    }
  }

  // --- checking for updates ---------------------------------------------------------------

  /** Asks every store now; the result is kept for {@link updates} and `appvisor status`. */
  check(): Promise<UpdateCheck> {
    if (this.#checking) return this.#checking;
    const checking = this.list()
      .then(() => this.updates())
      .finally(() => {
        if (this.#checking === checking) this.#checking = undefined;
      });
    this.#checking = checking;
    return checking;
  }

  /** The last check's result (nothing asked). */
  updates(): UpdateCheck {
    return {
      checkedAt: this.#check.checkedAt,
      updates: this.#check.updates.map((u) => ({ ...u })),
      errors: [...this.#check.errors],
    };
  }

  /** Updates every installed app that has a newer build; one failure does not stop the rest. */
  async updateAll(options: { force?: boolean } = {}): Promise<{
    results: { app: string; ok: boolean; result?: StoreResult; error?: StoreProblem }[];
  }> {
    const check = await this.check();
    const results: { app: string; ok: boolean; result?: StoreResult; error?: StoreProblem }[] = [];
    for (const update of check.updates) {
      try {
        results.push({
          app: update.app,
          ok: true,
          result: await this.update(update.app, { force: options.force ?? false }),
        });
      } catch (error) {
        results.push({ app: update.app, ok: false, error: problemOf(update.store, error) });
      }
    }
    return { results };
  }

  readonly close = once(async () => {
    clearTimeout(this.#timer);
    await this.#checking?.catch(() => undefined);
  });

  destroy(): void {
    clearTimeout(this.#timer);
  }
}

/** A public key in the one text form {@link publicKeyText} gives, whatever form it was given in. */
function normalizeKey(text: string): string {
  return parsePublicKey(text).export({ format: 'jwk' }).x ?? text;
}

/** A higher build; for an install of unknown build (no app.json build), another version. */
function isNewer(latest: StoreVersionView, installed: InstalledView): boolean {
  if (installed.build !== null) return latest.build > installed.build;
  return latest.version !== installed.version;
}

function problemOf(store: string, error: unknown): StoreProblem {
  if (error instanceof AppvisorError) return { store, code: error.code, message: error.message };
  return { store, code: 'INTERNAL', message: (error as Error).message };
}

/** Not listed: a store that could not be read may be why, so its problem is the error. */
function notListed(id: string, errors: StoreProblem[]): AppvisorError {
  const [first] = errors;
  if (!first) return new AppvisorError('APPSTORE_APP_NOT_FOUND', `no app store lists ${id}`);
  const detail = errors.map((e) => e.message).join('; ');
  const code = first.code in errorCatalog ? (first.code as ErrorCode) : 'INTERNAL';
  return new AppvisorError(code, `no app store that could be read lists ${id}; ${detail}`);
}

export type { StoreSource };
