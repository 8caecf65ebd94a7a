import { createInterface } from 'node:readline';
import type { EventsReport, ManagerEvent } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { printJson } from '../output.js';
import { count, query } from '../query.js';

/** One event as a line: when, severity, kind, what about, the text. */
export function eventLine(event: ManagerEvent): string {
  return `${event.at} ${event.severity.padEnd(8)} ${event.kind} ${event.subject}: ${event.text}`;
}

/**
 * `appvisor events [-n N] [-f]`: the last N events oldest first; with `--follow`, then each
 * new one as it happens (with `--json`, one JSON object per line) until interrupted.
 */
export async function events(
  context: CommandContext,
  options: { lines?: string; follow?: boolean },
): Promise<void> {
  const limit = count(options.lines, '-n') ?? 20;
  const { stdout } = context.io;
  if (!options.follow) {
    const report = await context.client.call<EventsReport>('GET', `/events${query({ limit })}`);
    const oldestFirst = [...report.events].reverse();
    if (context.json) printJson(context.io, oldestFirst);
    else for (const event of oldestFirst) stdout.write(`${eventLine(event)}\n`);
    return;
  }
  const response = await context.client.request('GET', `/events${query({ limit, follow: true })}`);
  for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
    if (line === '') continue;
    stdout.write(context.json ? `${line}\n` : `${eventLine(JSON.parse(line) as ManagerEvent)}\n`);
  }
}

/** Registers `appvisor events`. */
export function registerEvents(cli: Cli): void {
  cli.program
    .command('events')
    .description("the manager's event log: installs, starts, failures, backups, alarms…")
    .option('-n, --lines <n>', 'how many of the last events (default 20, at most 1000)')
    .option('-f, --follow', 'then print each new event as it happens')
    .action(withContext(cli, events));
}
