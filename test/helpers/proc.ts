/** The process table, for tests that look for leftover and doubled processes. */
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
