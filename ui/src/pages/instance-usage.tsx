/**
 * What instances take on disk (the size cells and the order of the Instances page, the size on
 * an instance's page) and the care of an instance's database (Vacuum, with its progress).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  call,
  id,
  type InstanceUsage,
  type InstanceVacuumBody,
  type InstanceView,
  type VacuumProgress,
  type VacuumResult,
} from '../api.js';
import { InlineField, Notice } from '../components.js';
import { FormCard, SubmitRow, Toggle, useForm } from '../forms.js';
import { bytes, relative } from '../format.js';

/** How the Instances page orders them. */
export type InstanceOrder = 'app' | 'size';

/** A size, `-` when unknown, `≥` when the folder walk stopped at its bound. */
function size(value: number | null, lowerBound = false): string {
  if (value === null) return '-';
  return `${lowerBound ? '≥ ' : ''}${bytes(value)}`;
}

/** The Database and Files cells of an instance's row. */
export function SizeCells(props: { usage: InstanceUsage }) {
  const { usage } = props;
  return (
    <>
      <td data-label="Database">{size(usage.databaseBytes)}</td>
      <td data-label="Files">
        {size(usage.filesBytes, usage.filesBytes !== null && !usage.filesComplete)}
      </td>
    </>
  );
}

/** The order control of the Instances page. */
export function OrderChoice(props: { order: InstanceOrder; onChange: (o: InstanceOrder) => void }) {
  return (
    <InlineField id="instances-order" label="Order">
      <select
        id="instances-order"
        value={props.order}
        onChange={(event) => {
          props.onChange(event.currentTarget.value === 'size' ? 'size' : 'app');
        }}
      >
        <option value="app">by app</option>
        <option value="size">largest first</option>
      </select>
    </InlineField>
  );
}

/** When the sizes shown were measured (the oldest of them). */
export function MeasuredNote(props: { instances: readonly InstanceView[] }) {
  if (props.instances.length === 0) return null;
  const times = props.instances.map((instance) => instance.usage.measuredAt);
  const oldest = times.reduce<string | null>(
    (a, b) => (a === null || b === null ? null : a < b ? a : b),
    times[0] ?? null,
  );
  return (
    <p class="hint" data-testid="sizes-measured">
      {oldest === null
        ? 'Sizes: not all measured yet.'
        : `Sizes (database and data folder on disk) measured ${relative(oldest)}.`}
    </p>
  );
}

/** The size fact of an instance's page. */
export function usageText(usage: InstanceUsage): string {
  if (usage.measuredAt === null) return 'not measured yet';
  return `database ${size(usage.databaseBytes)}, files ${size(
    usage.filesBytes,
    usage.filesBytes !== null && !usage.filesComplete,
  )} (measured ${relative(usage.measuredAt)})`;
}

/** One line about a vacuum under way. */
function progressText(progress: VacuumProgress): string {
  if (progress.phase === 'waiting')
    return 'Waiting for another operation on it (a backup, a restore)…';
  const blocks =
    progress.blocksTotal !== null && progress.blocksTotal > 0 && progress.blocksDone !== null
      ? `, ${Math.floor((progress.blocksDone / progress.blocksTotal) * 100)} %`
      : '';
  const step = progress.step ? ` (${progress.step}${blocks})` : '';
  if (progress.phase === 'reindex') return `Reindexing ${progress.table ?? ''}${step}`;
  return `Table ${Math.min(progress.done + 1, progress.tables)} of ${progress.tables}: ${progress.table ?? ''}${step}`;
}

/** Asks the instance's view every second while `running`: the vacuum's progress, or null. */
function useVacuumProgress(instance: InstanceView, running: boolean): VacuumProgress | null {
  const [progress, setProgress] = useState<VacuumProgress | null>(instance.vacuum);
  useEffect(() => {
    if (!running) {
      setProgress(null);
      return;
    }
    const timer = window.setInterval(() => {
      call<InstanceView>('GET', `/instances/${id(instance.id)}`).then(
        (view) => {
          setProgress(view.vacuum);
        },
        () => undefined,
      );
    }, 1000);
    return () => {
      window.clearInterval(timer);
    };
  }, [running, instance.id]);
  return progress ?? instance.vacuum;
}

/** A vacuum under way: its step and a bar of the tables done. */
function VacuumRunning(props: { progress: VacuumProgress | null }) {
  const shown = props.progress;
  return (
    <div class="progress" data-testid="vacuum-progress">
      <label for="vacuum-bar">
        <span role="status">{shown ? progressText(shown) : 'Starting…'}</span>
      </label>
      <progress
        id="vacuum-bar"
        {...(shown && shown.tables > 0 ? { value: shown.done, max: shown.tables } : {})}
      />
    </div>
  );
}

/** What a vacuum did. */
function VacuumDone(props: { result: VacuumResult; onDone: () => void }) {
  const { result } = props;
  return (
    <Notice kind="ok" onDismiss={props.onDone}>
      {result.full ? 'Full vacuum' : 'Vacuum'} done: {result.tables} tables in {result.seconds} s;
      database {size(result.databaseBytesBefore)} → {size(result.databaseBytesAfter)}.
    </Notice>
  );
}

/**
 * Vacuum of the instance's database: plain, or full (space back to the disk); its progress
 * from the instance's view, asked every second while it runs; the result.
 */
export function VacuumCard(props: { instance: InstanceView }) {
  const { instance } = props;
  const [full, setFull] = useState(false);
  const [result, setResult] = useState<VacuumResult>();
  const { action, errors } = useForm([]);
  const running = action.busy || instance.vacuum !== null;
  const progress = useVacuumProgress(instance, running);
  return (
    <FormCard
      labelledBy="vacuum-title"
      onSubmit={() => {
        setResult(undefined);
        const body: InstanceVacuumBody = { full };
        void action
          .run(() => call<VacuumResult>('POST', `/instances/${id(instance.id)}/vacuum`, body))
          .then((done) => {
            if (done) setResult(done);
          });
      }}
    >
      <h2 id="vacuum-title">Database care</h2>
      <p class="hint">
        A vacuum makes the space of deleted rows reusable; a full one gives it back to the disk, but
        rewrites every table (it needs room for a copy of the largest one and holds the app up while
        it works on a table).
      </p>
      <Toggle
        id="vacuum-full"
        label="Full (VACUUM FULL and REINDEX)"
        checked={full}
        disabled={running}
        onChange={setFull}
      />
      {running && <VacuumRunning progress={progress} />}
      {result && (
        <VacuumDone
          result={result}
          onDone={() => {
            setResult(undefined);
          }}
        />
      )}
      <SubmitRow
        error={errors.form}
        busy={running}
        label={full ? 'Vacuum full' : 'Vacuum'}
        busyLabel="Vacuuming…"
      />
    </FormCard>
  );
}
