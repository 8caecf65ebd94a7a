import { ApiError, call, messageOf, type StoreOperation } from '../../api.js';
import { bytes } from '../../format.js';
import { usePoll } from '../../hooks.js';

/** An install or update the page has asked for and waits on. */
export interface Pending {
  app: string;
  text: string;
}

/** What the page tells when an operation ended. */
export type Outcome = { kind: 'ok' | 'bad'; title: string; text?: string };

const phaseText: Record<StoreOperation['phase'], string> = {
  downloading: 'Downloading',
  'backing-up': 'Backing up its instances',
  installing: 'Installing',
  waiting: 'Waiting until the app and its instances are ready',
  'rolling-back': 'Rolling back to the previous version',
  done: 'Done',
  failed: 'Failed',
};

/** The phase and the downloaded bytes of the app's running operation, polled while shown. */
export function OperationProgress(props: { pending: Pending }) {
  const { app } = props.pending;
  const operations = usePoll(
    () => call<{ operations: StoreOperation[] }>('GET', '/store/operations'),
    500,
  );
  const op = operations.data?.operations.find((o) => o.app === app && o.finishedAt === null);
  const share = op && op.total > 0 ? Math.min(1, op.received / op.total) : undefined;
  let detail = '';
  if (op?.phase === 'downloading') {
    detail = ` ${bytes(op.received)} of ${bytes(op.total)}${share === undefined ? '' : ` (${Math.round(share * 100)}%)`}`;
  }
  return (
    <div class="progress card" data-testid="store-progress" aria-live="polite">
      <label for="store-progress-bar">
        {props.pending.text}
        {op ? ` ${op.version}: ${phaseText[op.phase]}${detail}…` : '…'}
      </label>
      <progress
        id="store-progress-bar"
        max={1}
        {...(op?.phase === 'downloading' && share !== undefined ? { value: share } : {})}
      />
    </div>
  );
}

/** What a failed install or update tells: its code and message, and whether it rolled back. */
export function failureOutcome(app: string, action: string, error: unknown): Outcome {
  const code = error instanceof ApiError ? error.code : 'INTERNAL';
  if (code === 'UPDATE_FAILED') {
    // The manager says when putting the previous version back failed as well.
    const title = /failed too/.test(messageOf(error))
      ? `The update of ${app} failed, and so did the rollback (UPDATE_FAILED)`
      : `The update of ${app} failed and was rolled back: the previous version runs again, its instances restored from the backup made before the update (UPDATE_FAILED)`;
    return { kind: 'bad', title, text: messageOf(error) };
  }
  return { kind: 'bad', title: `${action} ${app} failed: ${code}`, text: messageOf(error) };
}
