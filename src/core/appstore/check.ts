import type { Logger } from '../../lib/logger.js';
import { checkAppId } from '../catalog/index.js';
import { notListed, type StoreReader } from './read.js';
import type {
  InstalledView,
  StoreAppView,
  StoreListing,
  StoreVersionView,
  UpdateCheck,
} from './types.js';

/** What {@link UpdateChecker} needs. */
export interface UpdateCheckerOptions {
  reader: StoreReader;
  logger: Logger;
  /** Period of the update check; 0: never (only on demand). */
  checkPeriodMs: number;
}

/**
 * The update check: lists what every store offers beside what is installed, keeps what the
 * last reading found for `appvisor status`, and reads the stores again periodically and when
 * the list of stores changes.
 */
export class UpdateChecker {
  readonly #options: UpdateCheckerOptions;
  #check: UpdateCheck = { checkedAt: null, updates: [], errors: [] };
  /** Counts changes of the store list: a read begun before one does not say what is offered. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<UpdateCheck> | undefined;

  constructor(options: UpdateCheckerOptions) {
    this.#options = options;
  }

  /** Arms the periodic check, when there is one. */
  start(): void {
    if (this.#options.checkPeriodMs <= 0) return;
    // The first check soon after the start, not in it: a slow store must not delay the boot.
    this.#timer = setTimeout(() => {
      this.#periodicCheck();
    }, 5_000);
    this.#timer.unref();
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

  /**
   * The apps of every configured store, with what is installed of each. As it reads every
   * store, it is an update check too: `appvisor status` says what it found.
   */
  async list(): Promise<StoreListing> {
    const { reader } = this.#options;
    const generation = this.#generation;
    const [{ found, errors }, installed] = await Promise.all([reader.read(), reader.installed()]);
    const apps = new Map<string, StoreAppView>();
    for (const { source, apps: listed } of found) {
      for (const app of listed) {
        const mine = installed.get(app.id);
        // An app listed by several stores is shown from the one it came from, else the first.
        const existing = apps.get(app.id);
        if (existing && !(mine?.store === source.name && existing.store !== source.name)) continue;
        const versions = app.versions.map((v) => reader.versionView(source, app, v));
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
    if (generation === this.#generation) this.#remember(listing);
    return listing;
  }

  #remember(listing: StoreListing): void {
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
      errors: listing.errors,
    };
  }

  /**
   * A store was added, changed or removed: the last check no longer says what is offered
   * ("not checked yet" until a new one, begun at once, has read the stores).
   */
  sourcesChanged(): void {
    this.#generation++;
    this.#check = { checkedAt: null, updates: [], errors: [] };
    this.#checking = undefined;
    this.check().catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'update check failed');
    });
  }

  /** An app was installed or updated from a store: its update is no longer available. */
  installed(app: string): void {
    this.#check.updates = this.#check.updates.filter((u) => u.app !== app);
  }

  /** One app as the stores offer it; APPSTORE_APP_NOT_FOUND when none lists it. */
  async show(id: string): Promise<StoreAppView> {
    checkAppId(id);
    const listing = await this.list();
    const found = listing.apps.find((app) => app.id === id);
    if (found) return found;
    throw notListed(id, listing.errors);
  }

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

  /** Stops the periodic check and waits for one under way. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#checking?.catch(() => undefined);
  }

  destroy(): void {
    clearTimeout(this.#timer);
  }
}

/** A higher build; for an install of unknown build (no app.json build), another version. */
function isNewer(latest: StoreVersionView, installed: InstalledView): boolean {
  if (installed.build !== null) return latest.build > installed.build;
  return latest.version !== installed.version;
}
