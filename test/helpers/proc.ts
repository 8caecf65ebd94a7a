/** The process table, for tests that look for leftover and doubled processes. */
import { readFile } from 'node:fs/promises';
import { listProcesses, processInfo, type ProcessInfo } from '../../src/lib/processes.js';

export type { ProcessInfo };

/** Every live process but this one (zombies, which have ended, are left out). */
export function processTable(): Promise<ProcessInfo[]> {
  return listProcesses(() => true);
}

/** The pids of every descendant of `pid` (children, their children, …), from one table. */
export function descendantsIn(table: readonly ProcessInfo[], pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of table) {
    const list = children.get(entry.ppid) ?? [];
    list.push(entry.pid);
    children.set(entry.ppid, list);
  }
  const found: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    found.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

/** True while the process exists and is not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  return (await processInfo(pid)) !== undefined;
}

/**
 * The real uid an app's process runs its own code as. An app started inside cgroup limits
 * begins as a root shell that joins the groups and then `setpriv` drops to the app's user
 * (src/core/supervisor/spawn-wrap.ts): "running" (spawned) can be seen before that exec, so
 * this waits, up to 10 s, until the pid no longer runs the wrapper or setpriv.
 */
export async function appProcessUid(pid: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const wrapping = argv.includes('appvisor-run') || /(^|\/)setpriv$/.test(argv[0] ?? '');
    if (!wrapping || Date.now() > deadline) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
