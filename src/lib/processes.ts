import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';

/** True when a process with this pid exists (zombies included). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process as its argv, or undefined when it is gone. */
export async function commandLine(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((part) => part.length > 0);
  } catch {
    return undefined;
  }
}

/** Pids of every process whose command line contains `needle`. */
export async function findProcesses(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = await commandLine(pid);
    if (argv?.join(' ').includes(needle)) pids.push(pid);
  }
  return pids;
}

/** A process as /proc shows it: its owner, its process group and its command line. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  pgrp: number;
  argv: string[];
}

/** The process as /proc shows it; undefined when it is gone or a zombie. */
export async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Zombies have ended; only their parent's wait removes them.
    if (fields[0] === 'Z') return undefined;
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    const argv = await commandLine(pid);
    if (argv === undefined || !Number.isInteger(uid)) return undefined;
    return { pid, ppid: Number(fields[1]), uid, pgrp: Number(fields[2]), argv };
  } catch {
    return undefined;
  }
}

/** Every live process but this one that `match` accepts (those that end meanwhile are left out). */
export async function listProcesses(match: (info: ProcessInfo) => boolean): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const info = await processInfo(Number(entry));
    if (info && match(info)) found.push(info);
  }
  return found;
}

/** Sends a signal, ignoring a process that is already gone. Returns false if it was gone. */
export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Resolves when the process is gone, or with false after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** A TCP port on `host` that was free a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}
