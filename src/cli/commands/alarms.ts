import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AlarmHistoryReport, AlarmsReport, DiskReport } from '../../api/index.js';
import type { Cli, CommandContext } from '../context.js';
import { bytes, printJson, table } from '../output.js';

/** `appvisor alarms [--history]` */
export async function alarmList(
  context: CommandContext,
  options: { history?: boolean; limit?: string },
): Promise<void> {
  if (options.history) {
    const limit = options.limit ? `?limit=${encodeURIComponent(options.limit)}` : '';
    const report = await context.client.call<AlarmHistoryReport>('GET', `/alarms/history${limit}`);
    if (context.json) {
      printJson(context.io, report);
      return;
    }
    const rows = report.history.map((c) => [c.at, c.action, c.severity, c.code, c.subject, c.text]);
    context.io.stdout.write(
      rows.length === 0
        ? 'no alarm history\n'
        : `${table([['AT', 'ACTION', 'SEVERITY', 'CODE', 'SUBJECT', 'TEXT'], ...rows])}\n`,
    );
    return;
  }
  const report = await context.client.call<AlarmsReport>('GET', '/alarms');
  if (context.json) {
    printJson(context.io, report);
    return;
  }
  const rows = report.alarms.map((a) => [a.since, a.severity, a.code, a.subject, a.text]);
  context.io.stdout.write(
    rows.length === 0
      ? 'no active alarms\n'
      : `${table([['SINCE', 'SEVERITY', 'CODE', 'SUBJECT', 'TEXT'], ...rows])}\n`,
  );
}

/** `appvisor disk release` */
export async function diskRelease(context: CommandContext): Promise<void> {
  const report = await context.client.call<DiskReport>('POST', '/disk/release');
  if (context.json) {
    printJson(context.io, report);
    return;
  }
  context.io.stdout.write(
    `disk reserve released: ${bytes(report.freeBytes)} free of ${bytes(report.totalBytes)}\n`,
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
  if (context.json) printJson(context.io, { file: target });
  else context.io.stdout.write(`diagnostics written to ${target}\n`);
}

/** Registers `appvisor alarms`, `diagnostics` and `disk`. */
export function registerAlarms(cli: Cli): void {
  cli.program
    .command('alarms')
    .description('active alarms, or with --history their raises and clears')
    .option('--history', 'raises and clears, newest first')
    .option('--limit <n>', 'with --history: how many (default 100)')
    .action(async (options: { history?: boolean; limit?: string }) => {
      await alarmList(cli.context(), options);
    });

  cli.program
    .command('diagnostics <file>')
    .description('logs + status + settings + alarm history in one tar.gz, secrets removed')
    .action(async (file: string) => {
      await diagnostics(cli.context(), file);
    });

  const disk = cli.program.command('disk').description('the disk of the data folder');
  disk
    .command('release')
    .description('empty the disk reserve file (when the disk is full)')
    .action(async () => {
      await diskRelease(cli.context());
    });
}
