import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ProcessSpec } from './os.js';

/** What one app may use: its memory cap, its CPU weight and its process limit. */
export interface ResourceLimits {
  /** Memory (RAM, and swap where the kernel counts it) of all its processes together. */
  memoryMaxBytes: number;
  /** CPU share against the other apps and the manager, 1 to 10000 (cgroup v2 scale; 100 = equal). */
  cpuWeight: number;
  /** Processes (and, in cgroup v2 and v1, threads) it may have at once. */
  pidsMax: number;
}

/**
 * How the limits are enforced: `cgroup-v2` or `cgroup-v1` (a control group per app), `rlimit`
 * (RLIMIT_NPROC and RLIMIT_AS set on the app's first process: no CPU share, the memory cap is
 * one of address space per process), `none` (nothing could be set).
 */
export type Enforcement = 'cgroup-v2' | 'cgroup-v1' | 'rlimit' | 'none';

/** The controllers that carry the limits, by cgroup v1 hierarchy name. */
const v1Controllers = ['memory', 'cpu', 'pids'] as const;
type V1Controller = (typeof v1Controllers)[number];

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

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** What status tells of the sandbox. */
export interface SandboxInfo {
  enforcement: Enforcement;
  /** The folder(s) of the apps' control groups, when cgroups are used. */
  cgroups: string[];
  /** Why a stronger enforcement was not available, when it was not. */
  reason: string | null;
}

/** Options of {@link Sandbox.open}. */
export interface SandboxOptions {
  /** Name of the manager's group below its own group (one per manager: its node id). */
  name: string;
  /** The manager runs as root: the wrapper drops to the app's user itself. */
  isRoot: boolean;
  /** `auto`: control groups where possible, else rlimits; or only rlimits; or nothing. */
  mode?: 'auto' | 'rlimit' | 'none';
  /** Files read for detection (tests give fixtures); the real ones by default. */
  procCgroup?: string;
  mountinfo?: string;
  /** `prlimit` of util-linux, for the fallback; found on PATH-like defaults when omitted. */
  prlimit?: string;
  /** `setpriv` of util-linux, to drop to the app's user after joining the groups. */
  setpriv?: string;
}

/**
 * An app's group is `app-<id>`: a bare id could be the name of a control file of cgroup v1
 * (`tasks`, `notify_on_release`).
 */
const groupPrefix = 'app-';
function groupName(app: string): string {
  return `${groupPrefix}${app}`;
}

function findBinary(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * Puts each app's processes in control groups of their own with its limits (cgroup v2 or v1,
 * below the manager's own group: `<own>/<name>/<app>`), or, when no cgroup can be written,
 * starts them under `prlimit` with RLIMIT_NPROC and RLIMIT_AS. A process joins its groups
 * before it executes the app's `run`: the spawn goes through a shell that writes its own pid
 * to cgroup.procs and then executes the rest, so no process of the app ever runs outside.
 *
 * The file operations are synchronous: they are single small writes to cgroupfs, and the
 * spawn that needs them is synchronous too.
 */
export class Sandbox {
  readonly #layout: CgroupLayout | undefined;
  readonly #options: SandboxOptions;
  readonly #enforcement: Enforcement;
  readonly #reason: string | null;
  readonly #prlimit: string | undefined;
  readonly #setpriv: string | undefined;

  private constructor(
    options: SandboxOptions,
    layout: CgroupLayout | undefined,
    enforcement: Enforcement,
    reason: string | null,
    prlimit: string | undefined,
    setpriv: string | undefined,
  ) {
    this.#options = options;
    this.#layout = layout;
    this.#enforcement = enforcement;
    this.#reason = reason;
    this.#prlimit = prlimit;
    this.#setpriv = setpriv;
  }

  /** Detects what can be used and creates the manager's group(s). Never throws. */
  static open(options: SandboxOptions): Sandbox {
    const prlimit = options.prlimit ?? findBinary('prlimit');
    const setpriv = options.setpriv ?? findBinary('setpriv');
    const fallback = (reason: string) =>
      prlimit
        ? new Sandbox(options, undefined, 'rlimit', reason, prlimit, setpriv)
        : new Sandbox(
            options,
            undefined,
            'none',
            `${reason}; prlimit is missing`,
            prlimit,
            setpriv,
          );
    if (options.mode === 'none')
      return new Sandbox(
        options,
        undefined,
        'none',
        'apps.limitsEnforcement is none',
        prlimit,
        setpriv,
      );
    if (options.mode === 'rlimit') return fallback('apps.limitsEnforcement is rlimit');
    const procCgroup = options.procCgroup ?? readText('/proc/self/cgroup') ?? '';
    const mountinfo = options.mountinfo ?? readText('/proc/self/mountinfo') ?? '';
    const layout = detectCgroups(procCgroup, mountinfo, (dir) =>
      readText(join(dir, 'cgroup.controllers'))?.trim().split(/\s+/),
    );
    if (!layout) return fallback('no cgroup v2 or v1 with memory, cpu and pids controllers');
    if (options.isRoot && !setpriv) return fallback('setpriv is missing');
    try {
      if (layout.version === 2) Sandbox.#prepareV2(layout.dir, options.name);
      else
        for (const dir of Object.values(layout.dirs))
          mkdirSync(join(dir, options.name), { recursive: true });
    } catch (error) {
      return fallback(`cannot create control groups: ${(error as Error).message}`);
    }
    const enforcement = layout.version === 2 ? 'cgroup-v2' : 'cgroup-v1';
    return new Sandbox(options, layout, enforcement, null, prlimit, setpriv);
  }

  /**
   * cgroup v2 allows processes only in leaves of a group whose controllers are enabled for its
   * children: the manager moves itself to a leaf of its own (`<own>/<name>-manager`) when its
   * group holds processes, then enables memory, cpu and pids below `<own>` and `<own>/<name>`.
   */
  static #prepareV2(own: string, name: string): void {
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

  get enforcement(): Enforcement {
    return this.#enforcement;
  }

  info(): SandboxInfo {
    const layout = this.#layout;
    const cgroups = !layout
      ? []
      : layout.version === 2
        ? [join(layout.dir, this.#options.name)]
        : Object.values(layout.dirs).map((dir) => join(dir, this.#options.name));
    return { enforcement: this.#enforcement, cgroups, reason: this.#reason };
  }

  /** The app's group folders, one per hierarchy (one in v2). */
  #groups(app: string): string[] {
    const layout = this.#layout;
    if (!layout) return [];
    if (layout.version === 2) return [join(layout.dir, this.#options.name, groupName(app))];
    return v1Controllers.map((name) => join(layout.dirs[name], this.#options.name, groupName(app)));
  }

  #group(app: string, controller: V1Controller): string | undefined {
    const layout = this.#layout;
    if (!layout) return undefined;
    return join(
      layout.version === 2 ? layout.dir : layout.dirs[controller],
      this.#options.name,
      groupName(app),
    );
  }

  /** Creates the app's groups (if needed) and writes its limits into them. */
  apply(app: string, limits: ResourceLimits): void {
    const layout = this.#layout;
    if (!layout) return;
    for (const dir of this.#groups(app)) mkdirSync(dir, { recursive: true });
    if (layout.version === 2) {
      const dir = this.#group(app, 'memory')!;
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
      return;
    }
    const memory = this.#group(app, 'memory')!;
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
    writeFileSync(
      join(this.#group(app, 'cpu')!, 'cpu.shares'),
      String(cpuShares(limits.cpuWeight)),
    );
    writeFileSync(join(this.#group(app, 'pids')!, 'pids.max'), String(limits.pidsMax));
  }

  /**
   * The spec that starts `spec` inside the app's limits: through a shell that joins the app's
   * groups and then executes the command (as the app's user via setpriv when the manager is
   * root), or through prlimit. The process keeps its pid through every exec, so it stays the
   * leader of its process group and the owner of the IPC channel.
   */
  wrap(app: string, spec: ProcessSpec, limits: ResourceLimits): ProcessSpec {
    if (this.#enforcement === 'none') return spec;
    if (this.#enforcement === 'rlimit') {
      // RLIMIT_NPROC counts every process of the user: set only when the app has a user of its
      // own, never on the manager's user (whose own processes would count against the app).
      return {
        ...spec,
        command: this.#prlimit!,
        args: [
          ...(spec.uid !== undefined ? [`--nproc=${limits.pidsMax}`] : []),
          `--as=${limits.memoryMaxBytes}`,
          '--',
          spec.command,
          ...spec.args,
        ],
      };
    }
    this.apply(app, limits);
    const procs = this.#groups(app).map((dir) => join(dir, 'cgroup.procs'));
    const drop =
      this.#options.isRoot && spec.uid !== undefined
        ? [
            this.#setpriv!,
            `--reuid=${spec.uid}`,
            `--regid=${spec.gid ?? spec.uid}`,
            '--clear-groups',
            '--',
          ]
        : [];
    // $1: how many cgroup.procs files follow; a write that fails ends the start (exit 125).
    const script =
      'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"';
    // As root the shell runs as root (to join the groups); setpriv then drops to the app's user.
    const asWho = drop.length > 0 ? { ...spec, uid: undefined, gid: undefined } : spec;
    return {
      ...asWho,
      command: '/bin/sh',
      args: [
        '-c',
        script,
        'appvisor-run',
        String(procs.length),
        ...procs,
        ...drop,
        spec.command,
        ...spec.args,
      ],
    };
  }

  /** How often the kernel's OOM killer killed a process of the app's memory group. */
  oomKills(app: string): number {
    const dir = this.#group(app, 'memory');
    if (!dir) return 0;
    const file = this.#layout?.version === 2 ? 'memory.events' : 'memory.oom_control';
    return parseFlatKeyed(readText(join(dir, file)) ?? '').oom_kill ?? 0;
  }

  /** Pids in the app's groups now. */
  members(app: string): number[] {
    const dir = this.#group(app, 'pids');
    if (!dir) return [];
    return (readText(join(dir, 'cgroup.procs')) ?? '')
      .split('\n')
      .filter((line) => /^\d+$/.test(line))
      .map(Number);
  }

  /**
   * SIGKILLs every process left in the app's groups (one that left the process group with
   * setsid is still in them), a few rounds until none is left. Returns how many were killed.
   */
  killAll(app: string): number {
    const dir = this.#group(app, 'pids');
    if (!dir) return 0;
    if (this.#layout?.version === 2) {
      try {
        writeFileSync(join(dir, 'cgroup.kill'), '1');
      } catch {
        // before Linux 5.14: the loop below
      }
    }
    let killed = 0;
    for (let round = 0; round < 100; round++) {
      const pids = this.members(app);
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

  /** Kills what is left of the app and removes its groups (uninstall). */
  remove(app: string): void {
    this.killAll(app);
    for (const dir of this.#groups(app)) {
      try {
        rmdirSync(dir);
      } catch {
        // still busy for a moment after its last process ended: removed at the manager's close
      }
    }
  }

  /** Removes the manager's groups (shutdown): every app's first, then its own. */
  close(): void {
    for (const dir of this.info().cgroups) {
      const apps = (() => {
        try {
          return readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory());
        } catch {
          return [];
        }
      })();
      for (const app of apps) {
        if (app.name.startsWith(groupPrefix)) this.remove(app.name.slice(groupPrefix.length));
      }
      try {
        rmdirSync(dir);
      } catch {
        // a process is left in a group: the next start uses it again
      }
    }
  }
}
