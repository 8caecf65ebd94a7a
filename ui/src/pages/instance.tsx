import { useState } from 'preact/hooks';
import {
  call,
  id,
  messageOf,
  type InstanceUpdateBody,
  type InstanceView,
  type TraceBody,
} from '../api.js';
import {
  DangerZone,
  ErrorText,
  Facts,
  InstanceBadge,
  Link,
  NotLoaded,
  PageHeading,
  useNotice,
} from '../components.js';
import { Field, FormCard, SubmitRow, TextField, Toggle, useForm } from '../forms.js';
import { dateTime } from '../format.js';
import { usePoll } from '../hooks.js';
import { navigate } from '../router.js';
import { openInstance, useFrontOrigin } from './instances.js';
import { usageText, VacuumCard } from './instance-usage.js';
import { PbxLinkCard } from './pbx-link.js';

/** A strong password made in the browser (144 bits, URL-safe). */
function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

/**
 * A new password, typed (hidden) or generated in the browser; a generated one is shown, so
 * that it can be read and kept.
 */
function NewPasswordField(props: {
  error: string | undefined;
  value: string;
  onValue: (value: string) => void;
}) {
  const [shown, setShown] = useState(false);
  return (
    <Field
      id="edit-password"
      label="New password"
      hint="Empty: unchanged. 8 to 256 characters."
      error={props.error}
    >
      {(aria) => (
        <div class="inline">
          <input
            {...aria}
            {...(shown
              ? { type: 'text' as const, autocomplete: 'off' }
              : { type: 'password' as const, autocomplete: 'new-password' })}
            value={props.value}
            onInput={(event) => {
              props.onValue(event.currentTarget.value);
            }}
          />
          <button
            type="button"
            onClick={() => {
              props.onValue(generatePassword());
              setShown(true);
            }}
          >
            Generate
          </button>
        </div>
      )}
    </Field>
  );
}

/** Only what changed: each change is pushed to the running service. */
function changes(
  instance: InstanceView,
  edited: { domain: string; path: string; password: string; enabled: boolean; exclude: boolean },
): InstanceUpdateBody {
  const body: InstanceUpdateBody = {};
  if (edited.domain.trim() !== instance.domain) body.domain = edited.domain.trim();
  if (edited.path.trim() !== instance.path) body.path = edited.path.trim();
  if (edited.password) body.password = edited.password;
  if (edited.enabled !== instance.enabled) body.enabled = edited.enabled;
  if (edited.exclude !== instance.excludeFromBackup) body.excludeFromBackup = edited.exclude;
  return body;
}

function EditForm(props: { instance: InstanceView; onSaved: (view: InstanceView) => void }) {
  const { instance } = props;
  const [domain, setDomain] = useState(instance.domain);
  const [path, setPath] = useState(instance.path);
  const [password, setPassword] = useState('');
  const [enabled, setEnabled] = useState(instance.enabled);
  const [exclude, setExclude] = useState(instance.excludeFromBackup);
  const { action, errors } = useForm([
    'domain',
    'path',
    'password',
    'enabled',
    'excludeFromBackup',
  ]);
  return (
    <FormCard
      labelledBy="edit-title"
      onSubmit={() => {
        const body = changes(instance, { domain, path, password, enabled, exclude });
        void action
          .run(() => call<InstanceView>('PATCH', `/instances/${id(instance.id)}`, body))
          .then((view) => {
            if (!view) return;
            setPassword('');
            props.onSaved(view);
          });
      }}
    >
      <h2 id="edit-title">Settings</h2>
      <TextField
        id="edit-domain"
        label="Domain"
        error={errors.field.domain}
        value={domain}
        required
        onValue={setDomain}
      />
      <TextField
        id="edit-path"
        label="Web path"
        error={errors.field.path}
        value={path}
        required
        onValue={setPath}
      />
      <NewPasswordField error={errors.field.password} value={password} onValue={setPassword} />
      <div class="checks">
        <Toggle id="edit-enabled" label="Enabled" checked={enabled} onChange={setEnabled} />
        <Toggle
          id="edit-exclude"
          label="Exclude from backups"
          checked={exclude}
          onChange={setExclude}
        />
      </div>
      <SubmitRow
        error={errors.form ?? errors.field.enabled ?? errors.field.excludeFromBackup}
        busy={action.busy}
        label="Save"
        busyLabel="Saving…"
      />
    </FormCard>
  );
}

/** Trace flags as switches; each change is sent at once and reaches the running instance. */
function TraceFlags(props: { instance: InstanceView; onChanged: (view: InstanceView) => void }) {
  const { instance } = props;
  // The switch shows the asked state until the answer; a refusal puts it back.
  const [pending, setPending] = useState<{ flag: string; on: boolean }>();
  const [error, setError] = useState<string>();
  // The platform's flags and the app's own; one still on but no longer declared stays visible.
  const flags = [
    ...instance.traceFlagsAvailable,
    ...instance.traceFlags.filter((f) => !instance.traceFlagsAvailable.includes(f)),
  ];
  return (
    <fieldset class="card trace">
      <legend>Trace flags</legend>
      <p class="hint">Applied at once to the running instance; its lines go to the app's log.</p>
      <div class="flags">
        {flags.map((flag) => (
          <Toggle
            key={flag}
            id={`trace-${flag}`}
            label={flag}
            checked={pending?.flag === flag ? pending.on : instance.traceFlags.includes(flag)}
            disabled={pending !== undefined}
            onChange={(on) => {
              setPending({ flag, on });
              setError(undefined);
              const body: TraceBody = { changes: [`${on ? '+' : '-'}${flag}`] };
              call<InstanceView>('POST', `/instances/${id(instance.id)}/trace`, body).then(
                (view) => {
                  setPending(undefined);
                  props.onChanged(view);
                },
                (caught: unknown) => {
                  setPending(undefined);
                  setError(`${flag}: ${messageOf(caught)}`);
                },
              );
            }}
          />
        ))}
      </div>
      <ErrorText message={error} />
    </fieldset>
  );
}

/** Deletes the instance (after a question) and goes back to the list. */
function DeleteInstance(props: { instance: InstanceView }) {
  const { instance } = props;
  return (
    <DangerZone
      title="Delete"
      text="Stops the instance, drops its database and removes its data folder."
      button={`Delete ${instance.id}…`}
      question={`Delete ${instance.id}?`}
      confirmLabel="Delete"
      onConfirm={async () => {
        await call('DELETE', `/instances/${id(instance.id)}`);
        navigate('/instances');
      }}
    >
      <p>
        The database <code>{instance.database}</code> and every file of{' '}
        <strong>{instance.id}</strong> are deleted. This cannot be undone.
      </p>
    </DangerZone>
  );
}

/** Where the instance is and what it has, and its buttons (open it, back it up). */
function InstanceSummary(props: { instance: InstanceView }) {
  const { instance } = props;
  return (
    <>
      <div class="buttons">
        <button
          type="button"
          class="primary"
          onClick={() => {
            openInstance(instance);
          }}
        >
          Open {instance.path}/
        </button>
        <Link class="button" to={`/backups?instance=${id(instance.id)}`}>
          Back up now
        </Link>
      </div>
      <Facts
        facts={[
          ['App', <Link to={`/apps/${id(instance.app)}`}>{instance.app}</Link>],
          ['Path', instance.path],
          ['Domain', instance.domain],
          ['Database', instance.database],
          ['Data folder', instance.dataDir],
          ['Size', usageText(instance.usage)],
          ['Created', dateTime(instance.createdAt)],
          ['State since', dateTime(instance.since)],
        ]}
      />
    </>
  );
}

/** One instance: readiness, settings, trace flags; open and delete. */
export function InstancePage(props: { id: string }) {
  useFrontOrigin();
  const polled = usePoll(
    () => call<InstanceView>('GET', `/instances/${id(props.id)}`),
    3000,
    props.id,
  );
  const notice = useNotice((text: string) => ({ kind: 'ok', children: text }));
  // Counts saved settings: the link card starts afresh then (a password it showed may be old).
  const [saves, setSaves] = useState(0);
  const instance = polled.data;
  const saved = (view: InstanceView, text?: string) => {
    polled.set(view);
    if (text) notice.show(text);
  };

  if (!instance) {
    return (
      <NotLoaded
        title={props.id}
        at={polled.at}
        error={polled.error}
        back="/instances"
        backLabel="All instances"
      />
    );
  }
  return (
    <section aria-labelledby="instance-title">
      <p class="crumbs">
        <Link to="/instances">Instances</Link> /
      </p>
      <PageHeading id="instance-title" at={polled.at} error={polled.error}>
        {instance.id} <InstanceBadge instance={instance} />
      </PageHeading>
      {notice.view}
      {instance.error && <ErrorText message={`Failed: ${instance.error}`} />}
      <InstanceSummary instance={instance} />
      <PbxLinkCard
        key={saves}
        instance={instance}
        onRotated={(view) => {
          saved(view, `${view.id}: the database role has a new password`);
        }}
      />
      <div class="columns">
        <EditForm
          key={`${instance.domain}|${instance.path}|${instance.enabled}|${instance.excludeFromBackup}`}
          instance={instance}
          onSaved={(view) => {
            setSaves((n) => n + 1);
            saved(view, `${view.id}: settings saved`);
          }}
        />
        <TraceFlags
          instance={instance}
          onChanged={(view) => {
            saved(view);
          }}
        />
      </div>
      <VacuumCard instance={instance} />
      <DeleteInstance instance={instance} />
    </section>
  );
}
