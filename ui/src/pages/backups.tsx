import { useState } from 'preact/hooks';
import {
  call,
  id,
  type BackupEntry,
  type BackupList,
  type BackupSchedule,
  type InstanceList,
} from '../api.js';
import { ErrorText, Freshness, Link, Notice } from '../components.js';
import { bytes } from '../format.js';
import { usePoll } from '../hooks.js';
import { ArchivesTable } from './backups/archives-table.js';
import { CreateForm } from './backups/create-form.js';
import { RestoreForm } from './backups/restore-form.js';
import { ScheduleForm } from './backups/schedule-form.js';

/** What the last action did, with a link to the instance it made or changed. */
type Result = { text: string; instance?: string };

/** Archives, back up now, restore one, the schedule. */
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
  const [result, setResult] = useState<Result>();
  const views = instances.data?.instances ?? [];
  const list = polled.data?.backups;

  return (
    <section aria-labelledby="backups-title">
      <div class="heading">
        <h1 id="backups-title">Backups</h1>
        <Freshness at={polled.at} error={polled.error ?? instances.error} />
      </div>
      {result && (
        <Notice
          kind="ok"
          onDismiss={() => {
            setResult(undefined);
          }}
        >
          {result.text}
          {result.instance && (
            <>
              {' '}
              <Link to={`/instances/${id(result.instance)}`}>Open its page</Link>
            </>
          )}
        </Notice>
      )}
      <div class="columns">
        {/* The form waits for the instances, so that a preselected one is there to choose. */}
        {!instances.data ? (
          <p class="card quiet">Loading the instances…</p>
        ) : views.length === 0 ? (
          <p class="card quiet">
            No instance to back up yet: create one on the <Link to="/instances">Instances</Link>{' '}
            page.
          </p>
        ) : (
          <CreateForm
            instances={views}
            initial={preselected}
            defaultTemplate={schedule.data?.template}
            onMade={(entry) => {
              setResult({
                text: `${entry.instance ?? 'The instance'} backed up to ${entry.file} (${bytes(entry.size)}).`,
              });
              void polled.reload();
            }}
          />
        )}
        {schedule.data ? (
          <ScheduleForm
            key={`${schedule.data.cron}|${schedule.data.template}|${schedule.data.slots}|${schedule.data.verify}`}
            schedule={schedule.data}
            onSaved={(saved) => {
              schedule.set(saved);
              setResult({
                text: saved.cron === null ? 'Scheduled backups are off.' : 'Schedule saved.',
              });
            }}
          />
        ) : (
          <ErrorText message={schedule.error && `Cannot load the schedule: ${schedule.error}`} />
        )}
      </div>

      <div class="heading">
        <h2 id="archives-title">Archives</h2>
        <div class="field inline-field">
          <label for="backups-filter">Instance</label>
          <select
            id="backups-filter"
            value={filter}
            onChange={(event) => {
              setFilter(event.currentTarget.value);
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
        </div>
      </div>
      {list && list.length === 0 && (
        <p class="quiet">
          No archive{filter ? ` of ${filter}` : ''} yet
          {filter ? ' (encrypted archives show under "all")' : ''}.
        </p>
      )}
      {list && list.length > 0 && (
        <ArchivesTable
          list={list}
          onRestore={(entry) => {
            setRestoring(entry);
          }}
        />
      )}
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
            setResult({
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
