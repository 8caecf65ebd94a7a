import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AlarmHistoryReport, AlarmsReport, DiskReport } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, printAnswer, table, tableOr } from '../output.js';

/** `appvisor alarms [--history]` */
export async function alarmList(
  context: CommandContext,
  options: { history?: boolean; limit?: string },
): Promise<void> {
  if (options.history) {
    const limit = options.limit ? `?limit=${encodeURIComponent(options.limit)}` : '';
    const report = await context.client.call<AlarmHistoryReport>('GET', `/alarms/history${limit}`);
    const nodes = withNodes(report.history);
    printAnswer(context, report, () =>
      tableOr(
        'no alarm history',
        ['AT', 'ACTION', 'SEVERITY', 'CODE', 'SUBJECT', ...nodes.header, 'TEXT'],
        report.history.map((c) => [
          c.at,
          c.action,
          c.severity,
          c.code,
          c.subject,
          ...nodes.cell(c),
          c.text,
        ]),
      ),
    );
    return;
  }
  const report = await context.client.call<AlarmsReport>('GET', '/alarms');
  const nodes = withNodes(report.alarms);
  printAnswer(context, report, () =>
    tableOr(
      'no active alarms',
      ['SINCE', 'SEVERITY', 'CODE', 'SUBJECT', ...nodes.header, 'TEXT'],
      report.alarms.map((a) => [a.since, a.severity, a.code, a.subject, ...nodes.cell(a), a.text]),
    ),
  );
}

/** A NODE column when the alarms are a cluster's (each names its node), else none. */
function withNodes(rows: readonly { node?: string }[]): {
  header: string[];
  cell: (row: { node?: string }) => string[];
} {
  if (!rows.some((row) => row.node !== undefined)) return { header: [], cell: () => [] };
  return { header: ['NODE'], cell: (row) => [row.node ?? ''] };
}

/** The disk report as the table `appvisor disk` prints. */
function diskText(report: DiskReport): string {
  const reserve =
    report.reserveTargetBytes === 0
      ? 'none (disk.reserveBytes is 0)'
      : report.reserveBytes === 0
        ? `released (0 of ${bytes(report.reserveTargetBytes)}; made again when the disk has room)`
        : `${bytes(report.reserveBytes)} of ${bytes(report.reserveTargetBytes)}`;
  return table([
    ['path', report.path],
    ['free', `${bytes(report.freeBytes)} of ${bytes(report.totalBytes)}`],
    ['reserve', reserve],
    [
      'low below',
      `${bytes(report.lowBytes)}${report.low ? ' (disk-low: the disk is low now)' : ''}`,
    ],
  ]);
}

/** `appvisor disk`: the disk of the data folder and its reserve (`GET /disk`). */
export async function diskShow(context: CommandContext): Promise<void> {
  const report = await context.client.call<DiskReport>('GET', '/disk');
  printAnswer(context, report, () => diskText(report));
}

/** `appvisor disk release` */
export async function diskRelease(context: CommandContext): Promise<void> {
  const report = await context.client.call<DiskReport>('POST', '/disk/release');
  printAnswer(
    context,
    report,
    () => `disk reserve released: ${bytes(report.freeBytes)} free of ${bytes(report.totalBytes)}`,
  );
}

/** `appvisor diagnostics <file>`: downloads the archive, complete or not at all. */
export async function diagnostics(context: CommandContext, file: string): Promise<void> {
  const target = resolve(file);
  const partial = `${target}.part`;
  const response = await context.client.request('GET', '/diagnostics');
  try {
    await pipeline(response, createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  printAnswer(context, { file: target }, () => `diagnostics written to ${target}`);
}

/** Registers `appvisor alarms`, `diagnostics` and `disk`. */
export function registerAlarms(cli: Cli): void {
  cli.program
    .command('alarms')
    .description('active alarms, or with --history their raises and clears')
    .option('--history', 'raises and clears, newest first')
    .option('--limit <n>', 'with --history: how many (default 100)')
    .action(withContext(cli, alarmList));

  cli.program
    .command('diagnostics <file>')
    .description('logs + status + settings + alarm history in one tar.gz, secrets removed')
    .action(withContext(cli, diagnostics));

  const disk = cli.program
    .command('disk')
    .description('the disk of the data folder: free space and the reserve')
    .action(withContext(cli, diskShow));
  disk
    .command('release')
    .description('empty the disk reserve file (when the disk is full)')
    .action(withContext(cli, diskRelease));
}
