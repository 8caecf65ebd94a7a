import { useState } from 'preact/hooks';
import {
  call,
  id,
  type BackupEntry,
  type ListedBackup,
  type NodesReport,
  type BackupList,
  type BackupSchedule,
  type BackupTargetList,
  type InstanceList,
  type InstanceView,
} from '../api.js';
import { ErrorText, InlineField, Link, PageHeading, useNotice } from '../components.js';
import { bytes } from '../format.js';
import { usePoll, type Polled } from '../hooks.js';
import { ArchivesTable } from './backups/archives-table.js';
import { CreateForm } from './backups/create-form.js';
import { RestoreForm } from './backups/restore-form.js';
import { ScheduleForm } from './backups/schedule-form.js';
import { UploadForm } from './backups/upload-form.js';
import { TargetSelect, TargetsSection } from './backups/targets.js';

/** What the last action did, with a link to the instance it made or changed. */
type Result = { text: string; instance?: string };

/** The heading of the archives, with the instance they are filtered by. */
function ArchivesHeading(props: {
  filter: string;
  views: InstanceView[];
  onFilter: (filter: string) => void;
  targets: BackupTargetList['targets'];
  target: string;
  onTarget: (target: string) => void;
}) {
  const { filter, views } = props;
  return (
    <div class="heading">
      <h2 id="archives-title">Archives</h2>
      {props.targets.length > 0 && (
        <TargetSelect
          id="backups-target"
          label="In"
          targets={props.targets}
          value={props.target}
          onValue={props.onTarget}
        />
      )}
      <InlineField id="backups-filter" label="Instance">
        <select
          id="backups-filter"
          value={filter}
          onChange={(event) => {
            props.onFilter(event.currentTarget.value);
          }}
        >
          <option value="">all</option>
          {views.map((view) => (
            <option key={view.id} value={view.id}>
              {view.id}
            </option>
          ))}
          {filter && !views.some((view) => view.id === filter) && (
            <option value={filter}>{filter}</option>
          )}
        </select>
      </InlineField>
    </div>
  );
}

/** The archives (of the filter's instance), or that there are none. */
function Archives(props: {
  list: ListedBackup[] | undefined;
  filter: string;
  self: string | undefined;
  onRestore: (entry: ListedBackup) => void;
}) {
  const { list, filter } = props;
  if (!list) return null;
  if (list.length === 0)
    return (
      <p class="quiet">
        No archive{filter ? ` of ${filter}` : ''} yet
        {filter ? ' (encrypted archives show under "all")' : ''}.
      </p>
    );
  return <ArchivesTable list={list} self={props.self} onRestore={props.onRestore} />;
}

/** Back up now (once the instances are known) and the schedule, side by side. */
function BackupForms(props: {
  instances: Polled<InstanceList>;
  schedule: Polled<BackupSchedule>;
  preselected: string | undefined;
  targets: BackupTargetList['targets'];
  onMade: (entry: BackupEntry) => void;
  onSaved: (schedule: BackupSchedule) => void;
}) {
  const { instances, schedule } = props;
  const views = instances.data?.instances ?? [];
  return (
    <div class="columns">
      {/* The form waits for the instances, so that a preselected one is there to choose. */}
      {!instances.data ? (
        <p class="card quiet">Loading the instances…</p>
      ) : views.length === 0 ? (
        <p class="card quiet">
          No instance to back up yet: create one on the <Link to="/instances">Instances</Link> page.
        </p>
      ) : (
        <CreateForm
          instances={views}
          initial={props.preselected}
          defaultTemplate={schedule.data?.template}
          targets={props.targets}
          onMade={props.onMade}
        />
      )}
      {schedule.data ? (
        <ScheduleForm
          key={`${schedule.data.cron}|${schedule.data.template}|${schedule.data.slots}|${schedule.data.verify}`}
          schedule={schedule.data}
          onSaved={props.onSaved}
        />
      ) : (
        <ErrorText message={schedule.error && `Cannot load the schedule: ${schedule.error}`} />
      )}
    </div>
  );
}

/** Archives, back up now, restore one, the schedule, download and upload one. */
export function BackupsPage() {
  const preselected = new URLSearchParams(window.location.search).get('instance') ?? undefined;
  const [filter, setFilter] = useState(preselected ?? '');
  const [target, setTarget] = useState('');
  const query = new URLSearchParams();
  if (filter) query.set('instance', filter);
  if (target) query.set('target', target);
  const polled = usePoll(
    () => call<BackupList>('GET', `/backups${query.size > 0 ? `?${query.toString()}` : ''}`),
    // A remote listing reads every archive's head: not as often as the folder's.
    target ? 30000 : 5000,
    `${filter}|${target}`,
  );
  const targets = usePoll(() => call<BackupTargetList>('GET', '/backup-targets'), 30000);
  const targetList = targets.data?.targets ?? [];
  const instances = usePoll(() => call<InstanceList>('GET', '/instances'), 5000);
  const schedule = usePoll(() => call<BackupSchedule>('GET', '/backups/schedule'), 15000);
  const [restoring, setRestoring] = useState<ListedBackup>();
  // On a cluster, whose folder is this node's (its archives download here).
  const nodes = usePoll(() => call<NodesReport>('GET', '/nodes'), 60_000);
  const result = useNotice((shown: Result) => ({
    kind: 'ok',
    children: (
      <>
        {shown.text}
        {shown.instance && (
          <>
            {' '}
            <Link to={`/instances/${id(shown.instance)}`}>Open its page</Link>
          </>
        )}
      </>
    ),
  }));
  const views = instances.data?.instances ?? [];

  return (
    <section aria-labelledby="backups-title">
      <PageHeading id="backups-title" at={polled.at} error={polled.error ?? instances.error}>
        Backups
      </PageHeading>
      {result.view}
      <BackupForms
        instances={instances}
        schedule={schedule}
        preselected={preselected}
        targets={targetList}
        onMade={(entry) => {
          const where = entry.target ? `${entry.target}:` : '';
          result.show({
            text: `${entry.instance ?? 'The instance'} backed up to ${where}${entry.file} (${bytes(entry.size)}).`,
          });
          void polled.reload();
        }}
        onSaved={(saved) => {
          schedule.set(saved);
          result.show({
            text: saved.cron === null ? 'Scheduled backups are off.' : 'Schedule saved.',
          });
        }}
      />
      <ArchivesHeading
        filter={filter}
        views={views}
        onFilter={setFilter}
        targets={targetList}
        target={target}
        onTarget={setTarget}
      />
      <Archives
        list={polled.data?.backups}
        filter={filter}
        self={nodes.data?.self}
        onRestore={setRestoring}
      />
      <UploadForm
        onUploaded={(entry) => {
          result.show({
            text: `${entry.file} (${bytes(entry.size)}) uploaded${entry.instance ? `: a backup of ${entry.instance}` : ''}. Restore it from the list.`,
          });
          void polled.reload();
        }}
      />
      {restoring && (
        <RestoreForm
          key={`${restoring.target ?? ''}:${restoring.file}`}
          entry={restoring}
          instances={views}
          onCancel={() => {
            setRestoring(undefined);
          }}
          onRestored={(view, how) => {
            setRestoring(undefined);
            result.show({
              text: `${restoring.file} restored ${how === 'into' ? 'into' : 'as'} ${view.id}.`,
              instance: view.id,
            });
            void instances.reload();
          }}
        />
      )}
      <TargetsSection targets={targets} />
    </section>
  );
}
