/**
 * `appvisor instance` and what instances take on disk: the size columns of `instance list` and
 * `instance show`, and `instance vacuum` with its progress.
 */
import type { Command } from 'commander';
import type { InstanceUsage, InstanceView, VacuumProgress, VacuumResult } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, duration, printAnswer } from '../output.js';
import { progressLine, withProgress } from '../progress.js';

/** A size, or `-` when it is not known; `≥` when it is a lower bound. */
function size(value: number | null, lowerBound = false): string {
  if (value === null) return '-';
  return `${lowerBound ? '≥' : ''}${bytes(value)}`;
}

/** The DATABASE and FILES cells of an instance's row. */
export function usageCells(usage: InstanceUsage): [string, string] {
  return [
    size(usage.databaseBytes),
    size(usage.filesBytes, usage.filesBytes !== null && !usage.filesComplete),
  ];
}

/** How long ago a time was, as `12s ago`. */
function ago(iso: string, now = Date.now()): string {
  return `${duration((now - Date.parse(iso)) / 1000)} ago`;
}

/** The line under `instance list`: when the sizes shown were measured (the oldest of them). */
export function measuredNote(views: readonly InstanceView[]): string {
  const times = views.map((view) => view.usage.measuredAt);
  if (times.some((at) => at === null)) return 'sizes: not all measured yet';
  const oldest = (times as string[]).reduce((a, b) => (a < b ? a : b), times[0] ?? '');
  return oldest ? `sizes measured ${ago(oldest)}` : '';
}

/** The `usage` row of `instance show`. */
export function usageRow(usage: InstanceUsage): string {
  if (usage.measuredAt === null) return 'not measured yet';
  const [database, files] = usageCells(usage);
  return `database ${database}, files ${files} (measured ${ago(usage.measuredAt)})`;
}

/** One line about a vacuum under way. */
export function describeVacuum(id: string, progress: VacuumProgress): string {
  const kind = progress.full ? 'vacuum full' : 'vacuum';
  if (progress.phase === 'waiting')
    return `${kind} of ${id} waits for another operation on it (a backup or a restore)`;
  const blocks =
    progress.blocksTotal !== null && progress.blocksTotal > 0 && progress.blocksDone !== null
      ? ` ${Math.floor((progress.blocksDone / progress.blocksTotal) * 100)}% of ${bytes(progress.blocksTotal * 8192)}`
      : '';
  const step = progress.step ? `: ${progress.step}${blocks}` : '';
  if (progress.phase === 'reindex')
    return `reindex of ${id}${progress.table ? ` ${progress.table}` : ''}${step}`;
  const at = Math.min(progress.done + 1, progress.tables);
  return `${kind} of ${id}, table ${at}/${progress.tables} ${progress.table ?? ''}${step}`;
}

/** `appvisor instance vacuum <id> [--full]` */
export async function instanceVacuum(
  context: CommandContext,
  id: string,
  options: { full?: boolean },
): Promise<void> {
  const path = `/instances/${encodeURIComponent(id)}`;
  const result = await withProgress(
    progressLine(context),
    async () => {
      const view = await context.client.call<InstanceView>('GET', path);
      return view.vacuum ? describeVacuum(id, view.vacuum) : undefined;
    },
    () =>
      context.client.call<VacuumResult>('POST', `${path}/vacuum`, { full: options.full ?? false }),
  );
  printAnswer(context, result, () => {
    const skipped = result.skipped.length ? ` (${result.skipped.length} dropped meanwhile)` : '';
    return `${result.full ? 'vacuum full' : 'vacuum'} of ${result.id}: ${result.tables} tables${skipped} in ${result.seconds}s, database ${size(result.databaseBytesBefore)} → ${size(result.databaseBytesAfter)}`;
  });
}

/** Registers `appvisor instance vacuum` under `instance`. */
export function registerVacuum(cli: Cli, instance: Command): void {
  instance
    .command('vacuum')
    .description(
      "VACUUM (ANALYZE) the instance's database; --full: VACUUM FULL and REINDEX, giving the space of deleted rows back to the disk",
    )
    .argument('<id>')
    .option('--full', 'rewrite every table and index (needs room for a copy of the largest table)')
    .action(withContext(cli, instanceVacuum));
}
