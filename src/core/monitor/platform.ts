import type { MonitorSnapshot } from './sampler.js';

/** One node's latest sample, for the platform's view; `snapshot` absent: it did not answer. */
export interface NodeSample {
  node: string;
  state: 'up' | 'down' | 'stopped';
  snapshot?: MonitorSnapshot | undefined;
}

/** An app's use summed over the nodes. */
export interface AppTotals {
  cpuPercent: number;
  rssBytes: number;
  processes: number;
  /** Nodes on which its process runs. */
  running: number;
}

/** The platform's totals over the nodes that answered (`GET /monitor?scope=cluster`). */
export interface PlatformTotals {
  nodes: { up: number; down: number; stopped: number; answered: number };
  cpuCores: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskUsedBytes: number;
  diskFreeBytes: number;
  instances: number;
  instancesReady: number;
  apps: Record<string, AppTotals>;
}

/**
 * Sums the nodes' samples. A node that did not answer counts in its state only; a value a
 * node could not measure adds nothing.
 */
export function platformTotals(samples: readonly NodeSample[]): PlatformTotals {
  const totals: PlatformTotals = {
    nodes: { up: 0, down: 0, stopped: 0, answered: 0 },
    cpuCores: 0,
    memoryUsedBytes: 0,
    memoryTotalBytes: 0,
    diskUsedBytes: 0,
    diskFreeBytes: 0,
    instances: 0,
    instancesReady: 0,
    apps: {},
  };
  const plus = (value: number | null | undefined) =>
    value !== null && value !== undefined && Number.isFinite(value) ? value : 0;
  for (const { state, snapshot } of samples) {
    totals.nodes[state]++;
    if (!snapshot) continue;
    totals.nodes.answered++;
    const { machine } = snapshot;
    totals.cpuCores += plus(machine.cpu.cores);
    totals.memoryUsedBytes += plus(machine.memory.usedBytes);
    totals.memoryTotalBytes += plus(machine.memory.totalBytes);
    totals.diskUsedBytes += plus(machine.disk.usedBytes);
    totals.diskFreeBytes += plus(machine.disk.freeBytes);
    totals.instances += snapshot.instances.length;
    totals.instancesReady += snapshot.instances.filter((instance) => instance.ready).length;
    for (const app of snapshot.apps) {
      const sum = (totals.apps[app.id] ??= {
        cpuPercent: 0,
        rssBytes: 0,
        processes: 0,
        running: 0,
      });
      sum.cpuPercent += plus(app.cpuPercent);
      sum.rssBytes += plus(app.rssBytes);
      sum.processes += app.processes;
      if (app.state === 'running') sum.running++;
    }
  }
  return totals;
}
