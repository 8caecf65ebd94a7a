/**
 * What each instance takes on disk: its database (`pg_database_size`) and its data folder (the
 * disk space of its files, links never followed), measured in the background and kept for
 * views, `/metrics` and the `instance-large` alarm, so that listing instances never waits for a
 * walk of their folders.
 */
import { bytes } from '../../lib/format.js';
import { folderUsage } from '../../lib/folder-usage.js';
import { diskSpace } from '../disk/index.js';
import type { InstanceUsage } from './model.js';
import type { InstanceRegistry, Live } from './registry.js';

/** The usage of an instance not measured yet. */
export const unmeasured: InstanceUsage = {
  databaseBytes: null,
  filesBytes: null,
  filesComplete: false,
  measuredAt: null,
};

/** The alarm of an instance grown past its share of the disk. */
export const largeAlarm = 'instance-large';

/** Entries of one instance's folder looked at per measurement, at most. */
const maxEntries = 1_000_000;

/** Time one instance's folder walk may take per measurement. */
const walkMs = 60_000;

/** The share of its time the meter may be busy: the next run waits 9 times the last one. */
const busyShare = 0.1;

/** The alarm clears below this part of the limit, so that a size at the limit does not flap. */
const clearBelow = 0.9;

/** An instance's database and folder together; null when neither is known. */
export function usageTotal(usage: InstanceUsage): number | null {
  if (usage.databaseBytes === null && usage.filesBytes === null) return null;
  return (usage.databaseBytes ?? 0) + (usage.filesBytes ?? 0);
}

/**
 * Measures the instances: all of them every interval (a slow round pushes the next one back,
 * so that measuring takes at most a tenth of the time), one at once when asked (after a
 * vacuum). Never in an instance's queue: a measurement must not hold up a backup or a delete,
 * and one that meets a folder or database being swapped or dropped just measures what is there.
 */
export class UsageMeter {
  readonly #registry: InstanceRegistry;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(registry: InstanceRegistry) {
    this.#registry = registry;
  }

  /** Starts measuring in the background when the options ask for it. */
  start(): void {
    if (this.#registry.options.usage && !this.#closed) this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      const started = Date.now();
      void this.measureAll()
        .catch((error: unknown) => {
          this.#registry.options.logger.warn({ err: error }, 'measuring the instances failed');
        })
        .finally(() => {
          const took = Date.now() - started;
          const interval = this.#registry.options.usage?.intervalMs ?? 60_000;
          this.#schedule(Math.max(interval - took, (took * (1 - busyShare)) / busyShare));
        });
    }, delayMs);
    // Measuring alone must never keep the process alive.
    this.#timer.unref();
  }

  /** Measures every instance now (a round already running is joined), then checks the alarm. */
  measureAll(): Promise<void> {
    this.#running ??= this.#measure([...this.#registry.live.values()])
      .then(() => this.#checkAlarms())
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Measures one instance now; its usage as measured. */
  async measure(id: string): Promise<InstanceUsage> {
    const live = this.#registry.get(id);
    await this.#measure([live]);
    return this.#registry.usage.get(id) ?? unmeasured;
  }

  /**
   * Measures `lives`; skipped while the database server is not running (nothing to learn, and
   * no failure to log every interval). An instance whose database or folder cannot be measured
   * this time (a restore swapping them, a link in the folder's place) keeps its last
   * measurement, with its time: a passing gap must not clear its alarm and raise it again.
   */
  async #measure(lives: readonly Live[]): Promise<void> {
    const registry = this.#registry;
    if (!registry.options.database.running()) return;
    const sizes = await registry.options.database.sizes(lives.map((live) => live.row.db_name));
    for (const live of lives) {
      const { id } = live.row;
      const files = await folderUsage(registry.dataDir(live.row), {
        maxEntries,
        deadline: Date.now() + walkMs,
      }).catch(() => undefined);
      const databaseBytes = sizes.get(live.row.db_name) ?? null;
      // Deleted (or deleted and made again) meanwhile: what was measured is not its.
      if (registry.live.get(id) !== live) continue;
      if ((databaseBytes === null || !files) && registry.usage.has(id)) continue;
      registry.usage.set(id, {
        databaseBytes,
        filesBytes: files?.bytes ?? null,
        filesComplete: files?.complete ?? false,
        measuredAt: new Date().toISOString(),
      });
    }
  }

  /**
   * Raises `instance-large` for an instance whose database and folder together take more than
   * `largeSharePercent` of the data folder's disk, and clears it once they take less than 90 %
   * of that, or when the alarm is turned off (0), or the instance is gone.
   */
  async #checkAlarms(): Promise<void> {
    const { alarms, diskPath, usage } = this.#registry.options;
    const share = usage?.largeSharePercent ?? 0;
    const total = share > 0 ? (await diskSpace(diskPath)).totalBytes : 0;
    const limit = (total * share) / 100;
    for (const alarm of alarms.active()) {
      if (alarm.code !== largeAlarm) continue;
      if (share <= 0) alarms.clear(largeAlarm, 'the instance-large alarm is off', alarm.subject);
      else if (!this.#registry.live.has(alarm.subject))
        alarms.clear(largeAlarm, `instance ${alarm.subject} no longer exists`, alarm.subject);
    }
    if (share <= 0 || total <= 0) return;
    for (const [id, measured] of this.#registry.usage) {
      const size = usageTotal(measured);
      if (size === null || !this.#registry.live.has(id)) continue;
      const percent = ((size / total) * 100).toFixed(1);
      const text = `instance ${id} takes ${bytes(size)} (database ${bytes(measured.databaseBytes ?? 0)}, files ${bytes(measured.filesBytes ?? 0)}), ${percent} % of the data folder's disk (limit ${share} %)`;
      if (size > limit) alarms.raise(largeAlarm, 'warning', text, id);
      else if (size < limit * clearBelow) alarms.clear(largeAlarm, text, id);
    }
  }
}
