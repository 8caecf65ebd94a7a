/**
 * The files of the control groups: making the manager's group, writing an app's limits
 * (cgroup v2 and v1 name them differently), reading its OOM kills and members, killing them.
 * Synchronous: they are single small reads and writes to cgroupfs, and the spawn that needs
 * them is synchronous too.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLayout, V1Controller } from './cgroup-detect.js';
import type { ResourceLimits } from './limits.js';

/** A file's text; undefined when it cannot be read (absent, or an older kernel's). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** cgroup v2's cpu.weight (1–10000, 100 by default) as v1's cpu.shares (1024 by default). */
export function cpuShares(weight: number): number {
  return Math.max(2, Math.round((weight * 1024) / 100));
}

/** Reads `key value` lines (memory.events, memory.oom_control) into numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) values[key] = Number(value);
  }
  return values;
}

/** Creates the manager's group `name` below its own group(s); throws when it cannot. */
export function prepareGroups(layout: CgroupLayout, name: string): void {
  if (layout.version === 2) prepareV2(layout.dir, name);
  else
    for (const dir of Object.values(layout.dirs)) mkdirSync(join(dir, name), { recursive: true });
}

/**
 * cgroup v2 allows processes only in leaves of a group whose controllers are enabled for its
 * children: the manager moves itself to a leaf of its own (`<own>/<name>-manager`) when its
 * group holds processes, then enables memory, cpu and pids below `<own>` and `<own>/<name>`.
 */
function prepareV2(own: string, name: string): void {
  const enable = (dir: string) => {
    writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory +cpu +pids');
  };
  try {
    enable(own);
  } catch {
    // The group's processes are the manager's (and its children's, the embedded database's).
    const leaf = join(own, `${name}-manager`);
    mkdirSync(leaf, { recursive: true });
    const pids = (readText(join(own, 'cgroup.procs')) ?? '').split('\n').filter(Boolean);
    for (const pid of [String(process.pid), ...pids]) {
      try {
        writeFileSync(join(leaf, 'cgroup.procs'), pid);
      } catch {
        // ended meanwhile
      }
    }
    enable(own);
  }
  mkdirSync(join(own, name), { recursive: true });
  enable(join(own, name));
}

/** An app's group folder, by the v1 controller whose file is meant (one folder in v2). */
export type GroupOf = (controller: V1Controller) => string;

/** Writes the limits into an app's existing groups. */
export function writeLimits(version: 1 | 2, group: GroupOf, limits: ResourceLimits): void {
  if (version === 2) writeV2(group('memory'), limits);
  else writeV1(group, limits);
}

function writeV2(dir: string, limits: ResourceLimits): void {
  writeFileSync(join(dir, 'memory.max'), String(limits.memoryMaxBytes));
  // No swap beside the cap: a capped app that swaps would slow the whole machine instead.
  // Over the cap, the OOM killer ends the whole group: the app is restarted as a whole.
  for (const [file, value] of [
    ['memory.swap.max', '0'],
    ['memory.oom.group', '1'],
  ]) {
    try {
      writeFileSync(join(dir, file!), value!);
    } catch {
      // no swap accounting; an older kernel
    }
  }
  writeFileSync(join(dir, 'cpu.weight'), String(limits.cpuWeight));
  writeFileSync(join(dir, 'pids.max'), String(limits.pidsMax));
}

function writeV1(group: GroupOf, limits: ResourceLimits): void {
  const memory = group('memory');
  // memsw (memory + swap) must stay at least the memory limit: raise it first, lower it last.
  const memsw = join(memory, 'memory.memsw.limit_in_bytes');
  const hasMemsw = readText(memsw) !== undefined;
  try {
    if (hasMemsw) writeFileSync(memsw, String(limits.memoryMaxBytes));
  } catch {
    // lower than the current memory limit: written again below
  }
  writeFileSync(join(memory, 'memory.limit_in_bytes'), String(limits.memoryMaxBytes));
  if (hasMemsw) writeFileSync(memsw, String(limits.memoryMaxBytes));
  writeFileSync(join(group('cpu'), 'cpu.shares'), String(cpuShares(limits.cpuWeight)));
  writeFileSync(join(group('pids'), 'pids.max'), String(limits.pidsMax));
}

/** How often the OOM killer killed a process of the memory group `dir`. */
export function readOomKills(version: 1 | 2, dir: string): number {
  const file = version === 2 ? 'memory.events' : 'memory.oom_control';
  return parseFlatKeyed(readText(join(dir, file)) ?? '').oom_kill ?? 0;
}

/** Pids in the group `dir` now. */
export function readMembers(dir: string): number[] {
  return (readText(join(dir, 'cgroup.procs')) ?? '')
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

/**
 * SIGKILLs every process left in the group `dir` (one that left the process group with
 * setsid is still in it), a few rounds until none is left. Returns how many were killed.
 */
export function killMembers(version: 1 | 2, dir: string): number {
  if (version === 2) {
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
    } catch {
      // before Linux 5.14: the loop below
    }
  }
  let killed = 0;
  for (let round = 0; round < 100; round++) {
    const pids = readMembers(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
    }
  }
  return killed;
}
