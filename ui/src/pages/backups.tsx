import { useEffect, useRef, useState } from 'preact/hooks';
import {
  call,
  id,
  type BackupCreateBody,
  type BackupEntry,
  type BackupList,
  type BackupRestoreBody,
  type BackupSchedule,
  type BackupScheduleBody,
  type InstanceList,
  type InstanceView,
} from '../api.js';
import {
  ConfirmDialog,
  ErrorText,
  Field,
  Freshness,
  Link,
  Notice,
  Toggle,
  Working,
  formErrors,
  ListTable,
} from '../components.js';
import { bytes, dateTime } from '../format.js';
import { useAction, usePoll } from '../hooks.js';

const templateHint =
  '#A app, #I instance, #D domain, #L label, #m MAC, #d UTC time, #bn slot, ## a #';

/** What the last action did, with a link to the instance it made or changed. */
type Result = { text: string; instance?: string };

/** Back up now: an instance, optionally a template and a passphrase. */
function CreateForm(props: {
  instances: InstanceView[];
  initial: string | undefined;
  defaultTemplate: string | undefined;
  onMade: (entry: BackupEntry) => void;
}) {
  const [instance, setInstance] = useState(props.initial ?? '');
  const [template, setTemplate] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const action = useAction();
  const errors = formErrors(action.error, ['instance', 'template', 'slots', 'passphrase']);
  // The first instance once the list has come, unless one was chosen.
  const chosen = instance || props.instances[0]?.id || '';
  return (
    <form
      class="card"
      aria-labelledby="backup-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: BackupCreateBody = { instance: chosen };
        if (template.trim()) body.template = template.trim();
        if (passphrase) body.passphrase = passphrase;
        void action
          .run(() => call<BackupEntry>('POST', '/backups', body))
          .then((entry) => {
            if (!entry) return;
            // The passphrase is not kept once used.
            setPassphrase('');
            props.onMade(entry);
          });
      }}
    >
      <h2 id="backup-title">Back up now</h2>
      <Field id="backup-instance" label="Instance" error={errors.field.instance}>
        {(aria) => (
          <select
            {...aria}
            value={chosen}
            required
            disabled={action.busy}
            onChange={(event) => {
              setInstance(event.currentTarget.value);
            }}
          >
            {props.instances.map((view) => (
              <option key={view.id} value={view.id}>
                {view.id} ({view.app})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        id="backup-template"
        label="Name template (optional)"
        hint={`Default: the schedule's${props.defaultTemplate ? ` (${props.defaultTemplate})` : ''}. ${templateHint}`}
        error={errors.field.template}
      >
        {(aria) => (
          <input
            {...aria}
            value={template}
            disabled={action.busy}
            placeholder={props.defaultTemplate}
            onInput={(event) => {
              setTemplate(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="backup-passphrase"
        label="Passphrase (optional)"
        hint="Encrypts the archive. It is not stored: without it the archive cannot be restored."
        error={errors.field.passphrase}
      >
        {(aria) => (
          <input
            {...aria}
            type="password"
            autocomplete="new-password"
            value={passphrase}
            disabled={action.busy}
            onInput={(event) => {
              setPassphrase(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      {action.busy && <Working id="backup-progress" text={`Backing up ${chosen}…`} />}
      <ErrorText message={errors.form ?? errors.field.slots} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy || !chosen}>
          {action.busy ? 'Backing up…' : 'Back up now'}
        </button>
      </div>
    </form>
  );
}

/**
 * Restores one archive into an instance of its app (replacing its data, after a confirmation)
 * or as a new instance. An encrypted archive's app is known only once opened: every instance
 * is offered and the manager refuses one of another app.
 */
function RestoreForm(props: {
  entry: BackupEntry;
  instances: InstanceView[];
  onRestored: (view: InstanceView, how: 'into' | 'as') => void;
  onCancel: () => void;
}) {
  const { entry } = props;
  const candidates = props.instances.filter((view) => entry.app === null || view.app === entry.app);
  const [how, setHow] = useState<'into' | 'as'>('as');
  const [into, setInto] = useState(entry.instance ?? '');
  const [asId, setAsId] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const errors = formErrors(action.error, ['into', 'as', 'passphrase']);
  const target = candidates.some((view) => view.id === into) ? into : (candidates[0]?.id ?? '');
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    title.current?.focus();
  }, [entry.file]);

  const restore = () => {
    const body: BackupRestoreBody = { archive: entry.file };
    if (how === 'into') body.into = target;
    else body.as = asId.trim();
    if (passphrase) body.passphrase = passphrase;
    void action
      .run(() => call<InstanceView>('POST', '/backups/restore', body))
      .then((view) => {
        if (!view) return;
        setPassphrase('');
        props.onRestored(view, how);
      });
  };
  return (
    <form
      class="card"
      aria-labelledby="restore-title"
      onSubmit={(event) => {
        event.preventDefault();
        // Into a live instance replaces its data: asked first.
        if (how === 'into') setConfirming(true);
        else restore();
      }}
    >
      <h2 id="restore-title" ref={title} tabIndex={-1}>
        Restore <code>{entry.file}</code>
      </h2>
      <fieldset class="choice" disabled={action.busy}>
        <legend>Restore</legend>
        <label>
          <input
            type="radio"
            name="restore-how"
            value="as"
            checked={how === 'as'}
            onChange={() => {
              setHow('as');
            }}
          />{' '}
          as a new instance
        </label>
        <label>
          <input
            type="radio"
            name="restore-how"
            value="into"
            checked={how === 'into'}
            disabled={candidates.length === 0}
            onChange={() => {
              setHow('into');
            }}
          />{' '}
          into an existing instance (replaces its data)
        </label>
      </fieldset>
      {how === 'as' ? (
        <Field
          id="restore-as"
          label="New instance id"
          hint={`A new instance${entry.app ? ` of ${entry.app}` : ''}: path /<domain>/<id>, a new password`}
          error={errors.field.as}
        >
          {(aria) => (
            <input
              {...aria}
              required
              value={asId}
              disabled={action.busy}
              onInput={(event) => {
                setAsId(event.currentTarget.value);
              }}
            />
          )}
        </Field>
      ) : (
        <Field
          id="restore-into"
          label="Instance"
          hint={
            entry.app === null
              ? 'The archive is encrypted: its app is checked when it is opened'
              : `Instances of ${entry.app}`
          }
          error={errors.field.into}
        >
          {(aria) => (
            <select
              {...aria}
              value={target}
              required
              disabled={action.busy}
              onChange={(event) => {
                setInto(event.currentTarget.value);
              }}
            >
              {candidates.map((view) => (
                <option key={view.id} value={view.id}>
                  {entry.app === null ? `${view.id} (${view.app})` : view.id}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      {entry.encrypted && (
        <Field
          id="restore-passphrase"
          label="Passphrase"
          hint="The one the archive was made with"
          error={errors.field.passphrase}
        >
          {(aria) => (
            <input
              {...aria}
              type="password"
              autocomplete="off"
              required
              value={passphrase}
              disabled={action.busy}
              onInput={(event) => {
                setPassphrase(event.currentTarget.value);
              }}
            />
          )}
        </Field>
      )}
      {action.busy && (
        <Working
          id="restore-progress"
          text={`Restoring ${how === 'into' ? `into ${target}` : `as ${asId.trim()}`}…`}
        />
      )}
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Restoring…' : 'Restore'}
        </button>
        <button type="button" disabled={action.busy} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      <ConfirmDialog
        open={confirming}
        title={`Replace the data of ${target}?`}
        confirmLabel="Replace"
        danger
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={() => {
          restore();
          return Promise.resolve();
        }}
      >
        <p>
          The database and files of <strong>{target}</strong> are replaced by those of{' '}
          <code>{entry.file}</code>
          {entry.createdAt ? ` (made ${dateTime(entry.createdAt)})` : ''}. The instance restarts;
          what changed since the backup is lost.
        </p>
      </ConfirmDialog>
    </form>
  );
}

/** The schedule: cron (UTC), template, slots, on or off, and the next run. */
function ScheduleForm(props: {
  schedule: BackupSchedule;
  onSaved: (schedule: BackupSchedule) => void;
}) {
  const { schedule } = props;
  const [on, setOn] = useState(schedule.cron !== null);
  const [cron, setCron] = useState(schedule.cron ?? '0 3 * * *');
  const [template, setTemplate] = useState(schedule.template);
  const [slots, setSlots] = useState(String(schedule.slots));
  const [verify, setVerify] = useState(schedule.verify);
  const action = useAction();
  const errors = formErrors(action.error, ['cron', 'template', 'slots', 'verify']);
  return (
    <form
      class="card"
      aria-labelledby="schedule-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: BackupScheduleBody = {
          cron: on ? cron.trim() : null,
          template: template.trim(),
          slots: Number(slots),
          verify,
        };
        void action
          .run(() => call<BackupSchedule>('PUT', '/backups/schedule', body))
          .then((saved) => {
            if (saved) props.onSaved(saved);
          });
      }}
    >
      <h2 id="schedule-title">Schedule</h2>
      <p class="hint">
        Backs up every instance that is not excluded from backups.{' '}
        <span data-testid="next-run">
          {schedule.nextRun ? (
            <>
              Next run: <time dateTime={schedule.nextRun}>{dateTime(schedule.nextRun)}</time>
            </>
          ) : (
            'Off.'
          )}
        </span>
      </p>
      <div class="checks">
        <Toggle id="schedule-on" label="Scheduled backups" checked={on} onChange={setOn} />
        <Toggle
          id="schedule-verify"
          label="Verify each backup (restore it into a scratch database, compare row counts)"
          checked={verify}
          onChange={setVerify}
        />
      </div>
      <ErrorText message={errors.field.verify} />
      <Field
        id="schedule-cron"
        label="When (cron, UTC)"
        hint="minute hour day month weekday, e.g. 0 3 * * * is 03:00 UTC every day; a 6th field in front is seconds"
        error={errors.field.cron}
      >
        {(aria) => (
          <input
            {...aria}
            value={cron}
            required={on}
            disabled={!on}
            onInput={(event) => {
              setCron(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="schedule-template"
        label="Name template"
        hint={templateHint}
        error={errors.field.template}
      >
        {(aria) => (
          <input
            {...aria}
            value={template}
            required
            onInput={(event) => {
              setTemplate(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="schedule-slots"
        label="Slots"
        hint="With #bn: at most this many archives per instance, the oldest overwritten"
        error={errors.field.slots}
      >
        {(aria) => (
          <input
            {...aria}
            type="number"
            inputMode="numeric"
            min={1}
            max={1000}
            required
            value={slots}
            onInput={(event) => {
              setSlots(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save schedule'}
        </button>
      </div>
    </form>
  );
}

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
        <ListTable
          columns={['File', 'Instance', 'App', 'Size', 'Made', 'Encrypted']}
          actions
          labelledBy="archives-title"
        >
          {list.map((entry) => (
            <tr key={entry.file} data-file={entry.file} data-instance={entry.instance ?? undefined}>
              <th scope="row" data-label="File">
                <code class="wrap">{entry.file}</code>
              </th>
              <td data-label="Instance">{entry.instance ?? <span class="quiet">?</span>}</td>
              <td data-label="App">
                {entry.app === null ? (
                  <span class="quiet">?</span>
                ) : (
                  `${entry.app}${entry.appVersion ? ` ${entry.appVersion}` : ''}`
                )}
              </td>
              <td data-label="Size">{bytes(entry.size)}</td>
              <td data-label="Made">{dateTime(entry.createdAt ?? entry.modifiedAt)}</td>
              <td data-label="Encrypted">
                {entry.encrypted ? (
                  <span
                    class="badge warn"
                    title="Instance and app are known once opened with the passphrase"
                  >
                    encrypted
                  </span>
                ) : (
                  'no'
                )}
              </td>
              <td>
                <div class="buttons">
                  <button
                    type="button"
                    aria-label={`Restore ${entry.file}`}
                    onClick={() => {
                      setRestoring(entry);
                    }}
                  >
                    Restore…
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </ListTable>
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
