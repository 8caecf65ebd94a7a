import type { StatusReport } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, duration, printAnswer, table } from '../output.js';

/** `appvisor status` */
export async function status(context: CommandContext): Promise<void> {
  const report = await context.client.call<StatusReport>('GET', '/status');
  printAnswer(context, report, () => statusText(report));
}

/** The status report as the table `appvisor status` prints, the active alarms below it. */
function statusText(report: StatusReport): string {
  const { manager, database, system, apps, alarms, backup } = report;
  const counts = new Map<string, number>();
  for (const app of apps) {
    const state = app.runnable ? app.state : 'not runnable';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const appsText =
    apps.length === 0
      ? 'none installed'
      : `${apps.length} installed: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`;
  const listen = manager.listen.map((a) => `${a.scheme} :${a.port}`).join(', ');
  const rows = [
    [
      'manager',
      `${manager.state}, pid ${manager.pid}, up ${duration(manager.uptimeSeconds)}, version ${manager.version}`,
    ],
    ...(manager.cluster === null
      ? []
      : [['cluster', `${manager.cluster}, node ${manager.nodeId} (appvisor node list)`]]),
    [
      'database',
      [
        database.state,
        `${database.mode} PostgreSQL ${database.version ?? '?'} on ${database.host}:${database.port}`,
        ...(database.restarts ? [`${database.restarts} restarts`] : []),
      ].join(', '),
    ],
    [
      'system',
      [
        `cpu ${system.cpu.percent}% of ${system.cpu.cores} cores`,
        `load ${system.load.map((l) => l.toFixed(2)).join(' ')}`,
        `memory ${bytes(system.memory.usedBytes)} of ${bytes(system.memory.totalBytes)} used`,
        `disk ${bytes(system.disk.freeBytes)} free of ${bytes(system.disk.totalBytes)}`,
      ].join(', '),
    ],
    ['apps', appsText],
    [
      'limits',
      `${report.limits.enforcement}${report.limits.reason ? ` (${report.limits.reason})` : ''}; per app by default: memory ${bytes(report.limits.defaults.memoryMaxBytes)}, cpu weight ${report.limits.defaults.cpuWeight}, ${report.limits.defaults.pidsMax} processes`,
    ],
    ['backup', backup.error ?? (backup.version ? `${backup.version} (WebAssembly)` : 'checking')],
    ['front', listen],
    ['admin', manager.admin ? `${manager.admin.scheme} :${manager.admin.port}` : 'not listening'],
    ['data', manager.dataDir],
    ['alarms', alarms.length === 0 ? 'none' : String(alarms.length)],
    [
      'updates',
      report.updates.checkedAt === null
        ? 'not checked yet'
        : report.updates.updates.length === 0
          ? 'none available'
          : report.updates.updates
              .map((u) => `${u.app} ${u.available.version} (${u.available.label})`)
              .join(', '),
    ],
  ];
  const lines = [table(rows)];
  for (const alarm of alarms) {
    const where = alarm.node === undefined ? '' : ` (node ${alarm.node})`;
    lines.push(`  ${alarm.severity} ${alarm.code} ${alarm.subject}${where}: ${alarm.text}`);
  }
  return lines.join('\n');
}

/** Registers `appvisor status`. */
export function registerStatus(cli: Cli): void {
  cli.program
    .command('status')
    .description('manager, database, apps and alarms at a glance')
    .action(withContext(cli, status));
}
