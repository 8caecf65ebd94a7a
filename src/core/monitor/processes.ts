import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** What `/proc/<pid>/stat` tells about one process. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /**
   * CPU time in clock ticks: its own (user + system) plus that of its children it has waited
   * for. Counting the reaped children keeps the sum of a tree steady when a child exits.
   */
  ticks: number;
}

/** Parses one `/proc/<pid>/stat` line; undefined when it is not one. */
export function parsePidStat(text: string): ProcStat | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields 3 onwards: state, ppid, ..., utime (14), stime, cutime, cstime (17).
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): number => Number(rest[n - 3]);
  const ppid = field(4);
  const ticks = field(14) + field(15) + field(16) + field(17);
  if (!Number.isInteger(pid) || !Number.isFinite(ppid) || !Number.isFinite(ticks)) return undefined;
  return { pid, ppid, ticks };
}

/** `VmRSS` of `/proc/<pid>/status`, in bytes (0 for a kernel thread or a zombie). */
export function parseStatusRss(text: string): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Totals of a process and its descendants. */
export interface TreeUsage {
  /** Processes in the tree (the root included). */
  processes: number;
  ticks: number;
  rssBytes: number;
}

/**
 * One reading of every process of the machine (`/proc/[0-9]*\/stat`): enough to find the
 * descendants of any pid. Read once per sample and shared by every app and PostgreSQL.
 */
export class ProcessTable {
  readonly #procRoot: string;
  readonly #byPid = new Map<number, ProcStat>();
  readonly #children = new Map<number, number[]>();

  private constructor(procRoot: string, stats: ProcStat[]) {
    this.#procRoot = procRoot;
    for (const stat of stats) {
      this.#byPid.set(stat.pid, stat);
      const siblings = this.#children.get(stat.ppid);
      if (siblings) siblings.push(stat.pid);
      else this.#children.set(stat.ppid, [stat.pid]);
    }
  }

  /** Reads the table now. Processes that end while it is read are skipped. */
  static async read(procRoot = '/proc'): Promise<ProcessTable> {
    const names = (await readdir(procRoot)).filter((name) => /^\d+$/.test(name));
    const stats = await Promise.all(
      names.map(async (name) => {
        const text = await readFile(join(procRoot, name, 'stat'), 'utf8').catch(() => undefined);
        return text === undefined ? undefined : parsePidStat(text);
      }),
    );
    return new ProcessTable(
      procRoot,
      stats.filter((s): s is ProcStat => s !== undefined),
    );
  }

  /** The pid and its descendants found in the table; empty when the pid is not there. */
  tree(root: number): number[] {
    if (!this.#byPid.has(root)) return [];
    const out: number[] = [];
    const seen = new Set<number>();
    const stack = [root];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      out.push(pid);
      for (const child of this.#children.get(pid) ?? []) stack.push(child);
    }
    return out;
  }

  /**
   * CPU ticks and resident memory of a pid and its descendants; undefined when the pid is not
   * running. Memory is the sum of each process's RSS, so pages they share (PostgreSQL's shared
   * buffers) count once per process that touched them.
   */
  async usage(root: number): Promise<TreeUsage | undefined> {
    const pids = this.tree(root);
    if (pids.length === 0) return undefined;
    const rss = await Promise.all(
      pids.map(async (pid) => {
        const text = await readFile(join(this.#procRoot, String(pid), 'status'), 'utf8').catch(
          () => '',
        );
        return parseStatusRss(text);
      }),
    );
    return {
      processes: pids.length,
      ticks: pids.reduce((sum, pid) => sum + (this.#byPid.get(pid)?.ticks ?? 0), 0),
      rssBytes: rss.reduce((sum, bytes) => sum + bytes, 0),
    };
  }
}
