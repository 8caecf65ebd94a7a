/**
 * The progress line of `store install` and `store update` on a terminal: the phase of the
 * operation and the bytes of its download, as `GET /store/operations` tells them, polled while
 * the request runs.
 */
import type { StoreOperation } from '../../api/index.js';
import type { CommandContext } from '../context.js';
import { progressLine, withProgress } from '../progress.js';
import { bytesText, RateMeter } from '../transfer-progress.js';

const phaseText: Record<StoreOperation['phase'], string> = {
  downloading: 'downloading',
  'backing-up': 'backing its instances up',
  installing: 'installing',
  waiting: 'waiting until the app and its instances are ready',
  'rolling-back': 'rolling back to the previous version',
  done: 'done',
  failed: 'failed',
};

/** One line about an install or update; `op` undefined: not begun yet. */
export function describeStoreOperation(
  what: string,
  op: StoreOperation | undefined,
  meter: RateMeter,
): string {
  if (!op) return `${what}: asking the app store`;
  const head = `${op.action} of ${op.app} ${op.version} (${op.build}): ${phaseText[op.phase]}`;
  if (op.phase !== 'downloading') return head;
  return `${head} ${bytesText(op.received, op.total, meter.sample(op.app, op.received))}`;
}

/**
 * Runs `work` (an install or update request) with its progress line on a terminal: the
 * operation on `app` begun since, or any one under way when `app` is undefined (`--all`).
 */
export function withStoreProgress<T>(
  context: CommandContext,
  what: string,
  app: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const meter = new RateMeter();
  // An operation of the app that began before this one is not its own (a few seconds of
  // leeway for a remote manager's clock).
  const since = Date.now() - 5000;
  return withProgress(
    progressLine(context),
    async () => {
      const { operations } = await context.client.call<{ operations: StoreOperation[] }>(
        'GET',
        '/store/operations',
      );
      const mine = operations.find(
        (op) =>
          op.finishedAt === null &&
          (app === undefined || op.app === app) &&
          Date.parse(op.startedAt) >= since,
      );
      return describeStoreOperation(what, mine, meter);
    },
    work,
  );
}
