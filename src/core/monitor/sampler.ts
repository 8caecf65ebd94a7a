import type { Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { AppvisorError } from '../errors/index.js';
import { ProcessTable, type TreeUsage } from './processes.js';
import { SampleRing } from './ring.js';
import { SystemMonitor, type SystemSnapshot } from './system.js';

/** An app's process as the supervisor knows it. */
export interface AppProcess {
  id: string;
  /** Supervisor state: stopped, starting, running, stopping, backoff or fatal. */
  state: string;
  /** pid of its `run` process while it has one. */
  pid: number | null;
  /** Restarts after a crash since the manager started. */
  restarts: number;
}

/** An instance, whether its service said it is ready, and what it takes on disk. */
export interface InstanceReadiness {
  id: string;
  app: string;
  ready: boolean;
  /** As the instances subsystem last measured it (nulls: not measured yet). */
  usage?: {
    databaseBytes: number | null;
    filesBytes: number | null;
    measuredAt: string | null;
  };
}

/** Where the sampler gets what it does not read from `/proc`; the composition root wires it. */
export interface MonitorSources {
  apps(): AppProcess[];
  instances(): InstanceReadiness[];
  /** The database server: its state and the postmaster's pid (null when external). */
  database(): { state: string; pid: number | null };
  /** Client connections of the database server (`pg_stat_activity`). */
  connections(): Promise<number>;
}

/** Usage of one app's process tree at one sample. */
export interface AppUsage {
  id: string;
  state: string;
  pid: number | null;
  restarts: number;
  /** Processes in the tree: the `run` process and its descendants; 0 when not running. */
  processes: number;
  /** CPU share since the previous sample in percent of one core (200 = two busy cores). */
  cpuPercent: number | null;
  /** Sum of the resident memory of the tree. */
  rssBytes: number | null;
}

/** The database server at one sample. */
export interface PostgresUsage {
  state: string;
  /** pid of the postmaster; null for an external server. */
  pid: number | null;
  processes: number;
  /** CPU share of the postmaster and its backends, in percent of one core. */
  cpuPercent: number | null;
  /** Sum of the resident memory of the postmaster and its backends (shared buffers count in each). */
  rssBytes: number | null;
  /** Client connections; null when the count failed. */
  connections: number | null;
}

/** `GET /monitor`: the latest sample. */
export interface MonitorSnapshot {
  at: string;
  intervalSeconds: number;
  machine: SystemSnapshot;
  apps: AppUsage[];
  instances: InstanceReadiness[];
  postgres: PostgresUsage;
}

/** Resolutions of `GET /monitor/history`; `raw` is one point per sample. */
export const resolutions = {
  raw: 0,
  '10s': 10_000,
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
} as const;

/** A resolution of {@link resolutions}. */
export type Resolution = keyof typeof resolutions;

/** Unit of a history series. */
export type SeriesUnit = 'percent' | 'bytes' | 'load' | 'count';

/** `GET /monitor/history`: series aligned on one time axis. */
export interface MonitorHistory {
  resolution: Resolution;
  from: string;
  to: string;
  /** Start of each bucket (epoch ms); only buckets holding at least one sample. */
  times: number[];
  series: {
    name: string;
    unit: SeriesUnit;
    /** Mean in each bucket, null where the series had no value. */
    avg: (number | null)[];
    /** Largest value in each bucket. */
    max: (number | null)[];
  }[];
}

/** The unit of a series name, undefined when the name is not one the sampler makes. */
export function seriesUnit(name: string): SeriesUnit | undefined {
  const fixed: Record<string, SeriesUnit> = {
    'machine.cpu': 'percent',
    'machine.memoryUsed': 'bytes',
    'machine.load1': 'load',
    'machine.diskUsed': 'bytes',
    'machine.diskFree': 'bytes',
    'postgres.cpu': 'percent',
    'postgres.rss': 'bytes',
    'postgres.connections': 'count',
  };
  if (fixed[name]) return fixed[name];
  const app = /^app\.[A-Za-z0-9_-]{1,64}\.(cpu|rss)$/.exec(name);
  if (app) return app[1] === 'cpu' ? 'percent' : 'bytes';
  return undefined;
}

/** Options of {@link MonitorSampler}. */
export interface MonitorSamplerOptions {
  /** The data folder: its file system is the disk measured. */
  dataDir: string;
  /** Time between samples. */
  intervalMs: number;
  /** How much history is kept (default 24 h); the ring holds `historyMs / intervalMs` samples. */
  historyMs?: number;
  sources: MonitorSources;
  logger?: Logger;
  /** Where `/proc` is; tests point it at a fake one. */
  procRoot?: string;
  /** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
  ticksPerSecond?: number;
  /** The clock; tests pass a fake one. */
  now?: () => number;
}

/** CPU counters of a process tree at the previous sample, to measure the next share. */
interface CpuMark {
  pid: number;
  ticks: number;
  at: number;
}

/**
 * Samples the machine, every app's process tree and the database server at a fixed interval,
 * from `/proc` and `statfs` only, and keeps the history in a {@link SampleRing}.
 */
export class MonitorSampler implements Component {
  readonly name = 'monitor';
  readonly #options: MonitorSamplerOptions;
  readonly #system: SystemMonitor;
  readonly #ring: SampleRing;
  readonly #marks = new Map<string, CpuMark>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #latest: MonitorSnapshot | undefined;
  #running: Promise<MonitorSnapshot> | undefined;
  #closed = false;

  constructor(options: MonitorSamplerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#system = new SystemMonitor({
      dataDir: options.dataDir,
      ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    });
    const historyMs = options.historyMs ?? 24 * 3600_000;
    this.#ring = new SampleRing(Math.max(1, Math.ceil(historyMs / options.intervalMs)));
  }

  /** The history ring (read-only use: its size, capacity and memory). */
  get ring(): SampleRing {
    return this.#ring;
  }

  /** Takes a first sample in the background and then one every interval. */
  start(): Promise<void> {
    if (this.#timer || this.#closed) return Promise.resolve();
    void this.sample().catch(() => undefined);
    this.#timer = setInterval(() => {
      // A slow sample (a busy machine) is not stacked on: the next tick is skipped.
      if (!this.#running) void this.sample().catch(() => undefined);
    }, this.#options.intervalMs);
    // Sampling alone must never keep the process alive.
    this.#timer.unref();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  destroy(): void {
    void this.close();
  }

  /** The latest sample; waits for the first one when none is taken yet. */
  async current(): Promise<MonitorSnapshot> {
    if (this.#latest) return this.#latest;
    return this.#running ?? this.sample();
  }

  /** Takes one sample now and appends it to the history. */
  sample(): Promise<MonitorSnapshot> {
    this.#running ??= this.#take().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #cpu(key: string, pid: number, ticks: number, at: number): number | null {
    const before = this.#marks.get(key);
    this.#marks.set(key, { pid, ticks, at });
    // A new pid is a new process: its ticks cannot be compared with the old one's.
    if (!before || before.pid !== pid || at <= before.at) return null;
    const seconds = (at - before.at) / 1000;
    const used = Math.max(ticks - before.ticks, 0) / (this.#options.ticksPerSecond ?? 100);
    return Math.round((used / seconds) * 1000) / 10;
  }

  async #take(): Promise<MonitorSnapshot> {
    const sources = this.#options.sources;
    const [machine, table, connections] = await Promise.all([
      this.#system.read(),
      ProcessTable.read(this.#options.procRoot),
      sources.connections().catch((error: unknown) => {
        this.#options.logger?.debug({ err: error }, 'monitor: connection count failed');
        return null;
      }),
    ]);
    // Measured after the reads so that CPU shares divide by the span they really cover.
    const at = this.#now();
    const usageOf = async (key: string, pid: number | null) => {
      const usage: TreeUsage | undefined = pid === null ? undefined : await table.usage(pid);
      if (!usage || pid === null) {
        this.#marks.delete(key);
        return { processes: 0, cpuPercent: null, rssBytes: null };
      }
      return {
        processes: usage.processes,
        cpuPercent: this.#cpu(key, pid, usage.ticks, at),
        rssBytes: usage.rssBytes,
      };
    };
    const apps = await Promise.all(
      sources.apps().map(async (app): Promise<AppUsage> => ({
        id: app.id,
        state: app.state,
        pid: app.pid,
        restarts: app.restarts,
        ...(await usageOf(`app:${app.id}`, app.pid)),
      })),
    );
    const database = sources.database();
    const postgres: PostgresUsage = {
      state: database.state,
      pid: database.pid,
      ...(await usageOf('postgres', database.pid)),
      connections,
    };
    const snapshot: MonitorSnapshot = {
      at: new Date(at).toISOString(),
      intervalSeconds: this.#options.intervalMs / 1000,
      machine,
      apps,
      instances: sources.instances(),
      postgres,
    };
    this.#record(at, snapshot);
    this.#latest = snapshot;
    return snapshot;
  }

  #record(at: number, snapshot: MonitorSnapshot): void {
    const { machine, postgres } = snapshot;
    const values: Record<string, number | null> = {
      'machine.cpu': machine.cpu.percent,
      'machine.memoryUsed': machine.memory.usedBytes,
      'machine.load1': machine.load[0],
      'machine.diskUsed': machine.disk.usedBytes,
      'machine.diskFree': machine.disk.freeBytes,
      'postgres.cpu': postgres.cpuPercent,
      'postgres.rss': postgres.rssBytes,
      'postgres.connections': postgres.connections,
    };
    for (const app of snapshot.apps) {
      values[`app.${app.id}.cpu`] = app.cpuPercent;
      values[`app.${app.id}.rss`] = app.rssBytes;
    }
    // An uninstalled app's history goes with it.
    const present = new Set(snapshot.apps.map((app) => app.id));
    for (const name of this.#ring.seriesNames) {
      const id = /^app\.(.+)\.(cpu|rss)$/.exec(name)?.[1];
      if (id !== undefined && !present.has(id)) {
        this.#ring.drop(name);
        this.#marks.delete(`app:${id}`);
      }
    }
    this.#ring.push(at, values);
  }

  /**
   * The history of some series (all when `series` is empty) between `from` and `to` (epoch ms;
   * default: the whole history), downsampled to `resolution`.
   */
  history(
    options: {
      series?: readonly string[];
      from?: number;
      to?: number;
      resolution?: Resolution;
    } = {},
  ): MonitorHistory {
    const resolution = options.resolution ?? '1m';
    const to = options.to ?? this.#now();
    const from = options.from ?? to - this.#ring.capacity * this.#options.intervalMs;
    if (from > to) throw new AppvisorError('BAD_REQUEST', '"from" is after "to"');
    const names = options.series?.length ? [...options.series] : this.#ring.seriesNames;
    for (const name of names) {
      if (!seriesUnit(name)) {
        throw new AppvisorError('BAD_REQUEST', `unknown series "${name}"`, { field: 'series' });
      }
    }
    const buckets = this.#ring.downsample(names, resolutions[resolution], from, to);
    return {
      resolution,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      times: buckets.map((b) => b.at),
      series: names.map((name, i) => ({
        name,
        unit: seriesUnit(name)!,
        avg: buckets.map((b) => b.avg[i] ?? null),
        max: buckets.map((b) => b.max[i] ?? null),
      })),
    };
  }
}
