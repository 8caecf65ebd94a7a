/**
 * Where this process's control groups are: /proc/self/cgroup and /proc/self/mountinfo read
 * into a {@link CgroupLayout} (cgroup v2, or one folder per v1 controller). Pure functions of
 * the files' text, so the unit tests give fixtures of each kind of machine.
 */
import { join } from 'node:path';

/** The controllers that carry the limits, by cgroup v1 hierarchy name. */
export const v1Controllers = ['memory', 'cpu', 'pids'] as const;
export type V1Controller = (typeof v1Controllers)[number];

/** Where this process's control groups are, read from /proc/self/cgroup and mountinfo. */
export type CgroupLayout =
  { version: 2; dir: string } | { version: 1; dirs: Record<V1Controller, string> };

/** One line of /proc/self/cgroup: `hierarchy-id:controllers:path`. */
export interface ProcCgroupEntry {
  controllers: string[];
  path: string;
}

/** Parses /proc/<pid>/cgroup. The v2 entry has id 0 and no controllers. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    entries.push({
      controllers: match[2] === '' ? [] : match[2]!.split(','),
      path: match[3]!,
    });
  }
  return entries;
}

/** A cgroup file system mounted somewhere: what /proc/self/mountinfo says of it. */
export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted. */
  mountPoint: string;
  /** Which cgroup of the hierarchy the mount shows at its top (`/` unless bind-mounted). */
  root: string;
  /** v1: the controllers of the hierarchy (from the super options). */
  controllers: string[];
}

/** Octal escapes of mountinfo (`\040` for a space). */
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_all, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Parses /proc/self/mountinfo, keeping the cgroup and cgroup2 mounts. */
export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const fields = before.split(' ');
    const [fsType, , superOptions = ''] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const root = unescapeMount(fields[3] ?? '/');
    const mountPoint = unescapeMount(fields[4] ?? '');
    mounts.push({
      version: fsType === 'cgroup2' ? 2 : 1,
      mountPoint,
      root,
      controllers:
        fsType === 'cgroup'
          ? superOptions.split(',').filter((option) => v1Controllers.includes(option as never))
          : [],
    });
  }
  return mounts;
}

/** The folder of cgroup `path` in a mount whose top is `root`; undefined when not below it. */
function dirIn(mount: CgroupMount, path: string): string | undefined {
  const root = mount.root.replace(/\/$/, '');
  if (root !== '' && path !== root && !path.startsWith(`${root}/`)) return undefined;
  return join(mount.mountPoint, path.slice(root.length)).replace(/(.)\/$/, '$1');
}

/**
 * Finds this process's own control groups: cgroup v2 when a cgroup2 file system is mounted
 * whose own group offers the memory, cpu and pids controllers (`controllersOf` reads a
 * group's cgroup.controllers), else cgroup v1 when memory, cpu and pids each have a mounted
 * hierarchy, else undefined. A hybrid setup (v1 controllers, an empty v2 tree beside) is v1.
 */
export function detectCgroups(
  procCgroup: string,
  mountinfo: string,
  controllersOf: (dir: string) => string[] | undefined,
): CgroupLayout | undefined {
  const entries = parseProcCgroup(procCgroup);
  const mounts = parseMountinfo(mountinfo);
  const unified = entries.find((entry) => entry.controllers.length === 0);
  if (unified) {
    for (const mount of mounts.filter((m) => m.version === 2)) {
      const dir = dirIn(mount, unified.path);
      if (dir === undefined) continue;
      const offered = controllersOf(dir) ?? [];
      if (v1Controllers.every((name) => offered.includes(name))) return { version: 2, dir };
    }
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const name of v1Controllers) {
    const entry = entries.find((e) => e.controllers.includes(name));
    const mount = mounts.find((m) => m.version === 1 && m.controllers.includes(name));
    if (!entry || !mount) return undefined;
    const dir = dirIn(mount, entry.path);
    if (dir === undefined) return undefined;
    dirs[name] = dir;
  }
  return { version: 1, dirs: dirs as Record<V1Controller, string> };
}
