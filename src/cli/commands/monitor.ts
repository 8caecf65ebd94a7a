import type { MonitorSnapshot, PlatformMonitor } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, printAnswer, table } from '../output.js';

const percent = (value: number | null): string => (value === null ? '-' : `${value}%`);
const size = (value: number | null): string => (value === null ? '-' : bytes(value));

/**
 * `appvisor monitor [--cluster]`: the latest sample as a short table (`--json`: as the API
 * answers it); with `--cluster`, each node's and the platform's totals.
 */
export async function monitorShow(
  context: CommandContext,
  options: { cluster?: boolean } = {},
): Promise<void> {
  if (options.cluster) {
    const platform = await context.client.call<PlatformMonitor | MonitorSnapshot>(
      'GET',
      '/monitor?scope=cluster',
    );
    if ('totals' in platform) {
      printAnswer(context, platform, () => platformText(platform));
      return;
    }
    // A platform of one node answers its own sample.
    printAnswer(context, platform, () => monitorText(platform));
    return;
  }
  const sample = await context.client.call<MonitorSnapshot>('GET', '/monitor');
  printAnswer(context, sample, () => monitorText(sample));
}

/** Each node's CPU, memory and instances, then the platform's totals. */
function platformText({ nodes, totals }: PlatformMonitor): string {
  const rows = [['NODE', 'STATE', 'CPU', 'MEMORY', 'DISK FREE', 'INSTANCES']];
  for (const { node, state, snapshot } of nodes) {
    const machine = snapshot?.machine;
    rows.push([
      node,
      state,
      machine ? `${machine.cpu.percent}% of ${machine.cpu.cores}` : '-',
      machine ? `${bytes(machine.memory.usedBytes)} of ${bytes(machine.memory.totalBytes)}` : '-',
      machine ? bytes(machine.disk.freeBytes) : '-',
      snapshot
        ? `${snapshot.instances.filter((i) => i.ready).length} of ${snapshot.instances.length} ready`
        : '-',
    ]);
  }
  const { up, down, stopped, answered } = totals.nodes;
  const total = table([
    ['nodes', `${up} up, ${down} down, ${stopped} stopped; ${answered} answered`],
    ['cores', String(totals.cpuCores)],
    ['memory', `${bytes(totals.memoryUsedBytes)} of ${bytes(totals.memoryTotalBytes)} used`],
    ['disk', `${bytes(totals.diskFreeBytes)} free, ${bytes(totals.diskUsedBytes)} used`],
    ['instances', `${totals.instancesReady} of ${totals.instances} ready`],
  ]);
  const apps = Object.entries(totals.apps);
  const appRows = [['APP', 'RUNNING ON', 'CPU', 'MEMORY', 'PROCESSES']];
  for (const [id, app] of apps) {
    appRows.push([
      id,
      `${app.running} node(s)`,
      `${app.cpuPercent.toFixed(1)}%`,
      bytes(app.rssBytes),
      String(app.processes),
    ]);
  }
  return [table(rows), total, ...(apps.length > 0 ? [table(appRows)] : [])].join('\n\n');
}

function monitorText(sample: MonitorSnapshot): string {
  const { machine, postgres } = sample;
  const head = table([
    ['sampled', `${sample.at} (every ${sample.intervalSeconds}s)`],
    ['cpu', `${machine.cpu.percent}% of ${machine.cpu.cores} cores`],
    ['load', machine.load.map((l) => l.toFixed(2)).join(' ')],
    ['memory', `${bytes(machine.memory.usedBytes)} of ${bytes(machine.memory.totalBytes)} used`],
    ['disk', `${bytes(machine.disk.freeBytes)} free of ${bytes(machine.disk.totalBytes)}`],
    [
      'postgres',
      [
        postgres.state,
        `cpu ${percent(postgres.cpuPercent)}`,
        `memory ${size(postgres.rssBytes)} in ${postgres.processes} processes`,
        `${postgres.connections ?? '?'} connections`,
      ].join(', '),
    ],
  ]);
  if (sample.apps.length === 0) return `${head}\n\nno apps installed`;
  // CPU of an app is in percent of one core, so it may exceed 100.
  const rows = [['APP', 'STATE', 'CPU', 'MEMORY', 'PROCESSES', 'RESTARTS']];
  for (const app of sample.apps) {
    rows.push([
      app.id,
      app.state,
      percent(app.cpuPercent),
      size(app.rssBytes),
      String(app.processes),
      String(app.restarts),
    ]);
  }
  return `${head}\n\n${table(rows)}`;
}

/** Registers `appvisor monitor`. */
export function registerMonitor(cli: Cli): void {
  cli.program
    .command('monitor')
    .description('CPU, memory, load and disk now, and the CPU and memory of each app')
    .option('--cluster', "on a cluster: each node's values and the platform's totals")
    .action(withContext(cli, monitorShow));
}
