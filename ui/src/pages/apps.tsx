import { useState } from 'preact/hooks';
import {
  call,
  id,
  messageOf,
  uploadPackage,
  type AppActionAnswer,
  type AppList,
  type AppStatus,
  type AppSummary,
} from '../api.js';
import {
  AppBadge,
  ErrorText,
  Field,
  Freshness,
  Link,
  Notice,
  formErrors,
  ListTable,
} from '../components.js';
import { bytes } from '../format.js';
import { useAction, usePoll } from '../hooks.js';

/** Start, stop and restart buttons of one app; the answer's state shows at once. */
export function AppActions(props: {
  app: Pick<AppSummary, 'id' | 'state' | 'runnable'>;
  onDone: (message: string) => void;
  onError: (message: string) => void;
}) {
  const [busy, setBusy] = useState<string>();
  const { app } = props;
  if (!app.runnable) return null;
  const act = (action: 'start' | 'stop' | 'restart') => {
    setBusy(action);
    call<AppActionAnswer>('POST', `/apps/${id(app.id)}/${action}`).then(
      (answer) => {
        setBusy(undefined);
        const past = { start: 'started', stop: 'stopped', restart: 'restarted' }[action];
        props.onDone(
          answer.changed ? `${app.id} ${past}` : `${app.id} was already ${answer.status.state}`,
        );
      },
      (error: unknown) => {
        setBusy(undefined);
        props.onError(`${action} ${app.id}: ${messageOf(error)}`);
      },
    );
  };
  const up = app.state !== 'stopped' && app.state !== 'fatal';
  return (
    <div class="buttons">
      <button
        type="button"
        disabled={busy !== undefined || up}
        onClick={() => {
          act('start');
        }}
      >
        {busy === 'start' ? 'Starting…' : 'Start'}
      </button>
      <button
        type="button"
        disabled={busy !== undefined || !up}
        onClick={() => {
          act('stop');
        }}
      >
        {busy === 'stop' ? 'Stopping…' : 'Stop'}
      </button>
      <button
        type="button"
        disabled={busy !== undefined}
        onClick={() => {
          act('restart');
        }}
      >
        {busy === 'restart' ? 'Restarting…' : 'Restart'}
      </button>
    </div>
  );
}

function InstallForm(props: { onInstalled: (status: AppStatus) => void }) {
  const [file, setFile] = useState<File>();
  const [appId, setAppId] = useState('');
  // '': not sent, so a re-install keeps the app's autostart (and a new app has it off).
  const [autostart, setAutostart] = useState<'' | 'true' | 'false'>('');
  const [purge, setPurge] = useState(false);
  const [progress, setProgress] = useState<number>();
  const action = useAction();
  // The package's own faults are about the file; a bad id is about the id.
  const errors = formErrors(action.error, ['file', 'id'], {
    PACKAGE_INVALID: 'file',
    INVALID_APP_ID: 'id',
  });
  const fileError = errors.field.file;
  const idError = errors.field.id;
  const formError = errors.form;

  return (
    <form
      class="card"
      aria-labelledby="install-title"
      onSubmit={(event) => {
        event.preventDefault();
        if (!file) return;
        setProgress(0);
        const query: Record<string, string> = { purge: String(purge) };
        if (autostart) query.autostart = autostart;
        if (appId.trim()) query.id = appId.trim();
        void action
          .run(() => uploadPackage<AppStatus>(file, query, setProgress))
          .then((status) => {
            setProgress(undefined);
            if (status) props.onInstalled(status);
          });
      }}
    >
      <h2 id="install-title">Install an app</h2>
      <Field
        id="install-file"
        label="Package"
        hint="A .zip or .tar.gz with one top folder: the app"
        error={fileError}
      >
        {(aria) => (
          <input
            {...aria}
            type="file"
            name="file"
            required
            accept=".zip,.tar.gz,.tgz,application/zip,application/gzip"
            onChange={(event) => {
              setFile(event.currentTarget.files?.[0]);
              action.clear();
            }}
          />
        )}
      </Field>
      <Field
        id="install-id"
        label="App id (optional)"
        hint="Default: the package's top folder"
        error={idError}
      >
        {(aria) => (
          <input
            {...aria}
            name="id"
            value={appId}
            pattern="[A-Za-z0-9_\-]{1,64}"
            onInput={(event) => {
              setAppId(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="install-autostart"
        label="Start with the manager"
        hint="A re-install runs the app afterwards if it ran or autostart is on"
      >
        {(aria) => (
          <select
            {...aria}
            value={autostart}
            onChange={(event) => {
              setAutostart(event.currentTarget.value as '' | 'true' | 'false');
            }}
          >
            <option value="">As it is (no for a new app)</option>
            <option value="true">Yes: start it now and with the manager</option>
            <option value="false">No</option>
          </select>
        )}
      </Field>
      <div class="checks">
        <label>
          <input
            type="checkbox"
            checked={purge}
            onChange={(event) => {
              setPurge(event.currentTarget.checked);
            }}
          />{' '}
          Empty its data folder first (re-install)
        </label>
      </div>
      {progress !== undefined && (
        <div class="progress" aria-live="polite">
          <label for="install-progress">
            {progress < 1
              ? `Uploading ${file ? bytes(file.size * progress) : ''}… ${Math.round(progress * 100)}%`
              : 'Uploaded; installing…'}
          </label>
          <progress id="install-progress" max={1} {...(progress < 1 ? { value: progress } : {})} />
        </div>
      )}
      <ErrorText message={formError} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy || !file}>
          {action.busy ? 'Installing…' : 'Install'}
        </button>
      </div>
    </form>
  );
}

/** The list, with the next restart time of apps in backoff (which only their status tells). */
async function loadApps(): Promise<{ apps: (AppSummary & { nextRestartAt?: string | null })[] }> {
  const { apps } = await call<AppList>('GET', '/apps');
  return {
    apps: await Promise.all(
      apps.map(async (app) =>
        app.state === 'backoff'
          ? {
              ...app,
              nextRestartAt: (await call<AppStatus>('GET', `/apps/${id(app.id)}`)).nextRestartAt,
            }
          : app,
      ),
    ),
  };
}

/** Every app with its state and actions, and the install form. */
export function AppsPage() {
  const apps = usePoll(loadApps, 2500);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'bad'; text: string }>();
  const done = (text: string) => {
    setNotice({ kind: 'ok', text });
    void apps.reload();
  };
  const failed = (text: string) => {
    setNotice({ kind: 'bad', text });
    void apps.reload();
  };
  const list = apps.data?.apps;
  return (
    <section aria-labelledby="apps-title">
      <div class="heading">
        <h1 id="apps-title">Apps</h1>
        <Freshness at={apps.at} error={apps.error} />
      </div>
      {notice && (
        <Notice
          kind={notice.kind}
          onDismiss={() => {
            setNotice(undefined);
          }}
        >
          {notice.text}
        </Notice>
      )}
      {list && list.length === 0 && <p class="quiet">No app is installed yet.</p>}
      {list && list.length > 0 && (
        <ListTable columns={['App', 'State', 'Version', 'Autostart']} actions>
          {list.map((app) => (
            <tr key={app.id} data-app={app.id}>
              <th scope="row" data-label="App">
                <Link to={`/apps/${id(app.id)}`}>{app.id}</Link>
              </th>
              <td data-label="State">
                <AppBadge app={app} nextRestartAt={app.nextRestartAt} />
              </td>
              <td data-label="Version">{app.version ?? '-'}</td>
              <td data-label="Autostart">{app.autostart ? 'yes' : 'no'}</td>
              <td>
                <AppActions app={app} onDone={done} onError={failed} />
              </td>
            </tr>
          ))}
        </ListTable>
      )}
      <InstallForm
        onInstalled={(status) => {
          done(`${status.id} ${status.version ?? ''} installed: ${status.state}`);
        }}
      />
    </section>
  );
}
