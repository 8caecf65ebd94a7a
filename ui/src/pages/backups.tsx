import { useState } from 'preact/hooks';
import {
  call,
  id,
  type BackupEntry,
  type BackupList,
  type BackupSchedule,
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

/** What the last action did, with a link to the instance it made or changed. */
type Result = { text: string; instance?: string };

/** The heading of the archives, with the instance they are filtered by. */
function ArchivesHeading(props: {
  filter: string;
  views: InstanceView[];
  onFilter: (filter: string) => void;
}) {
  const { filter, views } = props;
  return (
    <div class="heading">
      <h2 id="archives-title">Archives</h2>
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
  list: BackupEntry[] | undefined;
  filter: string;
  onRestore: (entry: BackupEntry) => void;
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
  return <ArchivesTable list={list} onRestore={props.onRestore} />;
}

/** Back up now (once the instances are known) and the schedule, side by side. */
function BackupForms(props: {
  instances: Polled<InstanceList>;
  schedule: Polled<BackupSchedule>;
  preselected: string | undefined;
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
  const polled = usePoll(
    () => call<BackupList>('GET', `/backups${filter ? `?instance=${id(filter)}` : ''}`),
    5000,
    filter,
  );
  const instances = usePoll(() => call<InstanceList>('GET', '/instances'), 5000);
  const schedule = usePoll(() => call<BackupSchedule>('GET', '/backups/schedule'), 15000);
  const [restoring, setRestoring] = useState<BackupEntry>();
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
        onMade={(entry) => {
          result.show({
            text: `${entry.instance ?? 'The instance'} backed up to ${entry.file} (${bytes(entry.size)}).`,
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
      <ArchivesHeading filter={filter} views={views} onFilter={setFilter} />
      <Archives list={polled.data?.backups} filter={filter} onRestore={setRestoring} />
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
          key={restoring.file}
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
    </section>
  );
}
