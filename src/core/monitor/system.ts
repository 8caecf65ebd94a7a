import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/** CPU time counters of `/proc/stat`'s first line, in clock ticks. */
export interface CpuTimes {
  /** Ticks spent doing anything. */
  busy: number;
  /** Every tick, busy or idle. */
  total: number;
}

/** The machine's resources now: what `GET /status` reports under `system`. */
export interface SystemSnapshot {
  /** When it was read. */
  at: string;
  cpu: {
    /** Busy share of all cores since the previous reading, 0 to 100. */
    percent: number;
    cores: number;
  };
  /** Load averages over 1, 5 and 15 minutes. */
  load: [number, number, number];
  memory: {
    totalBytes: number;
    /** What can be had without swapping (`MemAvailable`). */
    availableBytes: number;
    usedBytes: number;
    percent: number;
  };
  /** The file system holding the data folder. */
  disk: {
    path: string;
    totalBytes: number;
    /** Free for the manager's user (root's reserve excluded). */
    freeBytes: number;
    usedBytes: number;
    percent: number;
  };
}

/** Reads the aggregate `cpu` line of `/proc/stat`. */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal; guest time is already in user and nice.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    values;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Busy share between two readings, 0 to 100 (0 when no tick passed). */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const busy = Math.min(Math.max(after.busy - before.busy, 0), total);
  return Math.round((busy / total) * 1000) / 10;
}

/** `MemTotal` and `MemAvailable` of `/proc/meminfo`, in bytes. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const kib = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const totalBytes = kib('MemTotal');
  if (totalBytes === undefined) throw new Error('no MemTotal in /proc/meminfo');
  // Kernels before 3.14 lack MemAvailable: free plus page cache is the usual estimate.
  const availableBytes = kib('MemAvailable') ?? (kib('MemFree') ?? 0) + (kib('Cached') ?? 0);
  return { totalBytes, availableBytes };
}

/** The three load averages of `/proc/loadavg`. */
export function parseLoadavg(text: string): [number, number, number] {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number);
  return [one ?? 0, five ?? 0, fifteen ?? 0];
}

const percentOf = (part: number, whole: number): number =>
  whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;

/** Options of {@link SystemMonitor}. */
export interface SystemMonitorOptions {
  /** The folder whose file system is measured: the data folder. */
  dataDir: string;
  /** Where `/proc` is; tests point it at a fake one. */
  procRoot?: string;
  /** The shortest span a CPU share is measured over, in ms (default 250). */
  minSpanMs?: number;
}

/**
 * Reads CPU, memory, load and disk from `/proc` and `statfs`, without running any program.
 * The CPU share is measured between two readings of `/proc/stat`: since the previous call when
 * that is long enough ago, else over a short wait.
 */
export class SystemMonitor {
  readonly #options: SystemMonitorOptions;
  #previous: { at: number; times: CpuTimes } | undefined;

  constructor(options: SystemMonitorOptions) {
    this.#options = options;
  }

  #proc(name: string): Promise<string> {
    return readFile(join(this.#options.procRoot ?? '/proc', name), 'utf8');
  }

  async #cpu(): Promise<number> {
    const minSpan = this.#options.minSpanMs ?? 250;
    let before = this.#previous;
    if (!before || Date.now() - before.at < minSpan) {
      before = { at: Date.now(), times: parseProcStat(await this.#proc('stat')) };
      await new Promise((resolve) => setTimeout(resolve, minSpan));
    }
    const now = { at: Date.now(), times: parseProcStat(await this.#proc('stat')) };
    this.#previous = now;
    return cpuPercent(before.times, now.times);
  }

  /** The machine's resources now. */
  async read(): Promise<SystemSnapshot> {
    const [percent, meminfo, loadavg, fs, cpuinfo] = await Promise.all([
      this.#cpu(),
      this.#proc('meminfo'),
      this.#proc('loadavg'),
      statfs(this.#options.dataDir),
      this.#proc('stat'),
    ]);
    const memory = parseMeminfo(meminfo);
    const usedMemory = Math.max(memory.totalBytes - memory.availableBytes, 0);
    const totalDisk = fs.blocks * fs.bsize;
    const usedDisk = (fs.blocks - fs.bfree) * fs.bsize;
    return {
      at: new Date().toISOString(),
      cpu: { percent, cores: cpuinfo.split('\n').filter((l) => /^cpu\d+ /.test(l)).length },
      load: parseLoadavg(loadavg),
      memory: {
        ...memory,
        usedBytes: usedMemory,
        percent: percentOf(usedMemory, memory.totalBytes),
      },
      disk: {
        path: this.#options.dataDir,
        totalBytes: totalDisk,
        freeBytes: fs.bavail * fs.bsize,
        usedBytes: usedDisk,
        percent: percentOf(usedDisk, totalDisk),
      },
    };
  }
}
