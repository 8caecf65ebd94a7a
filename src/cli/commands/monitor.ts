import type { MonitorSnapshot } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, printAnswer, table } from '../output.js';

const percent = (value: number | null): string => (value === null ? '-' : `${value}%`);
const size = (value: number | null): string => (value === null ? '-' : bytes(value));

/** `appvisor monitor`: the latest sample as a short table (`--json`: as the API answers it). */
export async function monitorShow(context: CommandContext): Promise<void> {
  const sample = await context.client.call<MonitorSnapshot>('GET', '/monitor');
  printAnswer(context, sample, () => monitorText(sample));
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
    .action(withContext(cli, monitorShow));
}
