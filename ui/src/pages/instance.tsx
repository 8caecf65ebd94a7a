import type { ComponentChildren } from 'preact';
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
  Field,
  Freshness,
  InstanceBadge,
  Link,
  Notice,
  Toggle,
  formErrors,
} from '../components.js';
import { dateTime } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { navigate } from '../router.js';
import { openInstance, useFrontOrigin } from './instances.js';
import { usageText, VacuumCard } from './instance-usage.js';

/** A strong password made in the browser (144 bits, URL-safe). */
function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

function EditForm(props: { instance: InstanceView; onSaved: (view: InstanceView) => void }) {
  const { instance } = props;
  const [domain, setDomain] = useState(instance.domain);
  const [path, setPath] = useState(instance.path);
  const [password, setPassword] = useState('');
  const [showPassword, setShowPassword] = useState(false);
  const [enabled, setEnabled] = useState(instance.enabled);
  const [exclude, setExclude] = useState(instance.excludeFromBackup);
  const action = useAction();
  const errors = formErrors(action.error, [
    'domain',
    'path',
    'password',
    'enabled',
    'excludeFromBackup',
  ]);
  return (
    <form
      class="card"
      aria-labelledby="edit-title"
      onSubmit={(event) => {
        event.preventDefault();
        // Only what changed is sent: each change is pushed to the running service.
        const body: InstanceUpdateBody = {};
        if (domain.trim() !== instance.domain) body.domain = domain.trim();
        if (path.trim() !== instance.path) body.path = path.trim();
        if (password) body.password = password;
        if (enabled !== instance.enabled) body.enabled = enabled;
        if (exclude !== instance.excludeFromBackup) body.excludeFromBackup = exclude;
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
      <Field id="edit-domain" label="Domain" error={errors.field.domain}>
        {(aria) => (
          <input
            {...aria}
            value={domain}
            required
            onInput={(event) => {
              setDomain(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field id="edit-path" label="Web path" error={errors.field.path}>
        {(aria) => (
          <input
            {...aria}
            value={path}
            required
            onInput={(event) => {
              setPath(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="edit-password"
        label="New password"
        hint="Empty: unchanged. 8 to 256 characters."
        error={errors.field.password}
      >
        {(aria) => (
          <div class="inline">
            {/* Shown once generated, so that it can be read and kept. */}
            {showPassword ? (
              <input
                {...aria}
                type="text"
                autocomplete="off"
                value={password}
                onInput={(event) => {
                  setPassword(event.currentTarget.value);
                }}
              />
            ) : (
              <input
                {...aria}
                type="password"
                autocomplete="new-password"
                value={password}
                onInput={(event) => {
                  setPassword(event.currentTarget.value);
                }}
              />
            )}
            <button
              type="button"
              onClick={() => {
                setPassword(generatePassword());
                setShowPassword(true);
              }}
            >
              Generate
            </button>
          </div>
        )}
      </Field>
      <div class="checks">
        <Toggle id="edit-enabled" label="Enabled" checked={enabled} onChange={setEnabled} />
        <Toggle
          id="edit-exclude"
          label="Exclude from backups"
          checked={exclude}
          onChange={setExclude}
        />
      </div>
      <ErrorText message={errors.form ?? errors.field.enabled ?? errors.field.excludeFromBackup} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
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

/** One instance: readiness, settings, trace flags; open and delete. */
export function InstancePage(props: { id: string }) {
  useFrontOrigin();
  const polled = usePoll(
    () => call<InstanceView>('GET', `/instances/${id(props.id)}`),
    3000,
    props.id,
  );
  const [notice, setNotice] = useState<string>();
  const instance = polled.data;
  const saved = (view: InstanceView, text?: string) => {
    polled.set(view);
    if (text) setNotice(text);
  };

  if (!instance) {
    return (
      <section>
        <h1>{props.id}</h1>
        <Freshness at={polled.at} error={polled.error} />
        <p>
          <Link to="/instances">All instances</Link>
        </p>
      </section>
    );
  }
  const facts: [string, ComponentChildren][] = [
    ['App', <Link to={`/apps/${id(instance.app)}`}>{instance.app}</Link>],
    ['Path', instance.path],
    ['Domain', instance.domain],
    ['Database', instance.database],
    ['Data folder', instance.dataDir],
    ['Size', usageText(instance.usage)],
    ['Created', dateTime(instance.createdAt)],
    ['State since', dateTime(instance.since)],
  ];
  return (
    <section aria-labelledby="instance-title">
      <p class="crumbs">
        <Link to="/instances">Instances</Link> /
      </p>
      <div class="heading">
        <h1 id="instance-title">
          {instance.id} <InstanceBadge instance={instance} />
        </h1>
        <Freshness at={polled.at} error={polled.error} />
      </div>
      {notice && (
        <Notice
          kind="ok"
          onDismiss={() => {
            setNotice(undefined);
          }}
        >
          {notice}
        </Notice>
      )}
      {instance.error && <ErrorText message={`Failed: ${instance.error}`} />}
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
      <dl class="facts">
        {facts.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div class="columns">
        <EditForm
          key={`${instance.domain}|${instance.path}|${instance.enabled}|${instance.excludeFromBackup}`}
          instance={instance}
          onSaved={(view) => {
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
    </section>
  );
}
