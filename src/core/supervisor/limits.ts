/**
 * An app's resource limits and the {@link Sandbox} that enforces them. The parts live beside:
 * where the control groups are (`cgroup-detect.ts`), their files (`cgroup-files.ts`), and how a
 * process starts inside the limits (`spawn-wrap.ts`); this file chooses the enforcement.
 */
import { accessSync, constants, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  detectCgroups,
  v1Controllers,
  type CgroupLayout,
  type V1Controller,
} from './cgroup-detect.js';
import {
  killMembers,
  prepareGroups,
  readMembers,
  readOomKills,
  readText,
  writeLimits,
} from './cgroup-files.js';
import type { ProcessSpec } from './os.js';
import { cgroupJoinSpec, rlimitSpec } from './spawn-wrap.js';

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

/** How {@link Sandbox.open} decided, with the tools it found. */
interface Decision {
  layout: CgroupLayout | undefined;
  enforcement: Enforcement;
  reason: string | null;
  prlimit: string | undefined;
  setpriv: string | undefined;
}

/**
 * Puts each app's processes in control groups of their own with its limits (cgroup v2 or v1,
 * below the manager's own group: `<own>/<name>/<app>`), or, when no cgroup can be written,
 * starts them under `prlimit` with RLIMIT_NPROC and RLIMIT_AS. A process joins its groups
 * before it executes the app's `run`: the spawn goes through a shell that writes its own pid
 * to cgroup.procs and then executes the rest, so no process of the app ever runs outside.
 */
export class Sandbox {
  readonly #layout: CgroupLayout | undefined;
  readonly #options: SandboxOptions;
  readonly #enforcement: Enforcement;
  readonly #reason: string | null;
  readonly #prlimit: string | undefined;
  readonly #setpriv: string | undefined;

  private constructor(options: SandboxOptions, decision: Decision) {
    this.#options = options;
    this.#layout = decision.layout;
    this.#enforcement = decision.enforcement;
    this.#reason = decision.reason;
    this.#prlimit = decision.prlimit;
    this.#setpriv = decision.setpriv;
  }

  /** Detects what can be used and creates the manager's group(s). Never throws. */
  static open(options: SandboxOptions): Sandbox {
    return new Sandbox(options, Sandbox.#decide(options));
  }

  static #decide(options: SandboxOptions): Decision {
    const prlimit = options.prlimit ?? findBinary('prlimit');
    const setpriv = options.setpriv ?? findBinary('setpriv');
    const without = (enforcement: Enforcement, reason: string): Decision => ({
      layout: undefined,
      enforcement,
      reason,
      prlimit,
      setpriv,
    });
    const fallback = (reason: string) =>
      prlimit ? without('rlimit', reason) : without('none', `${reason}; prlimit is missing`);
    if (options.mode === 'none') return without('none', 'apps.limitsEnforcement is none');
    if (options.mode === 'rlimit') return fallback('apps.limitsEnforcement is rlimit');
    const procCgroup = options.procCgroup ?? readText('/proc/self/cgroup') ?? '';
    const mountinfo = options.mountinfo ?? readText('/proc/self/mountinfo') ?? '';
    const layout = detectCgroups(procCgroup, mountinfo, (dir) =>
      readText(join(dir, 'cgroup.controllers'))?.trim().split(/\s+/),
    );
    if (!layout) return fallback('no cgroup v2 or v1 with memory, cpu and pids controllers');
    if (options.isRoot && !setpriv) return fallback('setpriv is missing');
    try {
      prepareGroups(layout, options.name);
    } catch (error) {
      return fallback(`cannot create control groups: ${(error as Error).message}`);
    }
    const enforcement = layout.version === 2 ? 'cgroup-v2' : 'cgroup-v1';
    return { layout, enforcement, reason: null, prlimit, setpriv };
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
    writeLimits(layout.version, (controller) => this.#group(app, controller)!, limits);
  }

  /**
   * The spec that starts `spec` inside the app's limits: through a shell that joins the app's
   * groups and then executes the command (as the app's user via setpriv when the manager is
   * root), or through prlimit.
   */
  wrap(app: string, spec: ProcessSpec, limits: ResourceLimits): ProcessSpec {
    if (this.#enforcement === 'none') return spec;
    if (this.#enforcement === 'rlimit') return rlimitSpec(this.#prlimit!, spec, limits);
    this.apply(app, limits);
    const procs = this.#groups(app).map((dir) => join(dir, 'cgroup.procs'));
    return cgroupJoinSpec(procs, this.#options.isRoot ? this.#setpriv : undefined, spec);
  }

  /** How often the kernel's OOM killer killed a process of the app's memory group. */
  oomKills(app: string): number {
    const dir = this.#group(app, 'memory');
    if (!dir) return 0;
    return readOomKills(this.#layout!.version, dir);
  }

  /** Pids in the app's groups now. */
  members(app: string): number[] {
    const dir = this.#group(app, 'pids');
    if (!dir) return [];
    return readMembers(dir);
  }

  /**
   * SIGKILLs every process left in the app's groups (one that left the process group with
   * setsid is still in them), a few rounds until none is left. Returns how many were killed.
   */
  killAll(app: string): number {
    const dir = this.#group(app, 'pids');
    if (!dir) return 0;
    return killMembers(this.#layout!.version, dir);
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
