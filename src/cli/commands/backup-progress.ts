/**
 * The progress line of `backup create` and `backup restore` on a terminal: the phase of the
 * operation and its bytes, as `GET /backups/running` tells them, polled while the request runs.
 */
import type { BackupProgress, BackupsRunning } from '../../api/index.js';
import type { CommandContext } from '../context.js';
import { progressLine, withProgress } from '../progress.js';
import { bytesText, RateMeter } from '../transfer-progress.js';

const phaseText: Record<BackupProgress['phase'], string> = {
  waiting: 'waiting for the operations on the instance before it, or a free dump slot',
  unpack: 'unpacking the archive and checking every member',
  database: 'database',
  files: 'files',
  archive: 'writing the archive',
  verify: 'verifying: a test restore into a scratch database',
};

/** One line about a backup or restore of `instance`; `progress` undefined: not begun yet. */
export function describeBackup(
  operation: BackupProgress['operation'],
  instance: string,
  progress: BackupProgress | undefined,
  meter: RateMeter,
): string {
  const what = operation === 'backup' ? `backup of ${instance}` : `restore into ${instance}`;
  if (!progress) return `${what}: ${operation === 'backup' ? 'starting' : 'waiting'}`;
  const phase = phaseText[progress.phase];
  if (progress.bytes === 0 && progress.totalBytes === null) return `${what}: ${phase}`;
  const rate = meter.sample(progress.phase, progress.bytes);
  return `${what}: ${phase} ${bytesText(progress.bytes, progress.totalBytes, rate)}`;
}

/**
 * Runs `work` (the request of a backup or restore of `instance`) with its progress line on a
 * terminal; only `work` otherwise.
 */
export function withBackupProgress<T>(
  context: CommandContext,
  operation: BackupProgress['operation'],
  instance: string,
  work: () => Promise<T>,
): Promise<T> {
  const meter = new RateMeter();
  return withProgress(
    progressLine(context),
    async () => {
      const { operations } = await context.client.call<BackupsRunning>('GET', '/backups/running');
      const mine = operations.find((op) => op.operation === operation && op.instance === instance);
      return describeBackup(operation, instance, mine, meter);
    },
    work,
  );
}
