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
import { AppBadge, Link, ListTable, PageHeading, useNotice } from '../components.js';
import {
  Checkbox,
  FileField,
  FormCard,
  SelectField,
  SubmitRow,
  TextField,
  useForm,
} from '../forms.js';
import { bytes } from '../format.js';
import { usePoll } from '../hooks.js';

type AppAction = 'start' | 'stop' | 'restart';

/** Start, stop and restart buttons of one app; the answer's state shows at once. */
export function AppActions(props: {
  app: Pick<AppSummary, 'id' | 'state' | 'runnable'>;
  onDone: (message: string) => void;
  onError: (message: string) => void;
}) {
  const [busy, setBusy] = useState<AppAction>();
  const { app } = props;
  if (!app.runnable) return null;
  const act = (action: AppAction) => {
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
  // Each button: its action, its label, its label while it runs, and whether it is pointless.
  const buttons: [AppAction, string, string, boolean][] = [
    ['start', 'Start', 'Starting…', up],
    ['stop', 'Stop', 'Stopping…', !up],
    ['restart', 'Restart', 'Restarting…', false],
  ];
  return (
    <div class="buttons">
      {buttons.map(([action, label, busyLabel, pointless]) => (
        <button
          key={action}
          type="button"
          disabled={busy !== undefined || pointless}
          onClick={() => {
            act(action);
          }}
        >
          {busy === action ? busyLabel : label}
        </button>
      ))}
    </div>
  );
}

/** What uploading the package, then installing it, has come to. */
function UploadProgress(props: { progress: number; file: File | undefined }) {
  const { progress, file } = props;
  return (
    <div class="progress" aria-live="polite">
      <label for="install-progress">
        {progress < 1
          ? `Uploading ${file ? bytes(file.size * progress) : ''}… ${Math.round(progress * 100)}%`
          : 'Uploaded; installing (a new version of an app: until it is ready, or rolled back)…'}
      </label>
      <progress id="install-progress" max={1} {...(progress < 1 ? { value: progress } : {})} />
    </div>
  );
}

/** Start with the manager: '' is not sent, so a re-install keeps the app's autostart. */
type Autostart = '' | 'true' | 'false';

const autostartOptions: [Autostart, string][] = [
  ['', 'As it is (no for a new app)'],
  ['true', 'Yes: start it now and with the manager'],
  ['false', 'No'],
];

function InstallForm(props: { onInstalled: (status: AppStatus) => void }) {
  const [file, setFile] = useState<File>();
  const [appId, setAppId] = useState('');
  // '': not sent, so a re-install keeps the app's autostart (and a new app has it off).
  const [autostart, setAutostart] = useState<Autostart>('');
  const [purge, setPurge] = useState(false);
  const [progress, setProgress] = useState<number>();
  // The package's own faults are about the file; a bad id is about the id.
  const { action, errors } = useForm(['file', 'id'], {
    PACKAGE_INVALID: 'file',
    INVALID_APP_ID: 'id',
  });

  return (
    <FormCard
      labelledBy="install-title"
      onSubmit={() => {
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
      <FileField
        id="install-file"
        label="Package"
        hint="A .zip or .tar.gz with one top folder: the app"
        error={errors.field.file}
        name="file"
        required
        accept=".zip,.tar.gz,.tgz,application/zip,application/gzip"
        onFile={(chosen) => {
          setFile(chosen);
          action.clear();
        }}
      />
      <TextField
        id="install-id"
        label="App id (optional)"
        hint="Default: the package's top folder"
        error={errors.field.id}
        name="id"
        value={appId}
        pattern="[A-Za-z0-9_\-]{1,64}"
        onValue={setAppId}
      />
      <SelectField
        id="install-autostart"
        label="Start with the manager"
        hint="A re-install runs the app afterwards if it ran or autostart is on"
        value={autostart}
        options={autostartOptions}
        onValue={setAutostart}
      />
      <div class="checks">
        <Checkbox checked={purge} onChange={setPurge}>
          Empty its data folder first (re-install)
        </Checkbox>
      </div>
      {progress !== undefined && <UploadProgress progress={progress} file={file} />}
      <SubmitRow
        error={errors.form}
        busy={action.busy}
        disabled={!file}
        label="Install"
        busyLabel="Installing…"
      />
    </FormCard>
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

/** The installed apps, each with its state and actions. */
function AppsTable(props: {
  list: (AppSummary & { nextRestartAt?: string | null })[];
  onDone: (text: string) => void;
  onError: (text: string) => void;
}) {
  return (
    <ListTable columns={['App', 'State', 'Version', 'Autostart']} actions>
      {props.list.map((app) => (
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
            <AppActions app={app} onDone={props.onDone} onError={props.onError} />
          </td>
        </tr>
      ))}
    </ListTable>
  );
}

/** Every app with its state and actions, and the install form. */
export function AppsPage() {
  const apps = usePoll(loadApps, 2500);
  const notice = useNotice((shown: { kind: 'ok' | 'bad'; text: string }) => ({
    kind: shown.kind,
    children: shown.text,
  }));
  const done = (text: string) => {
    notice.show({ kind: 'ok', text });
    void apps.reload();
  };
  const failed = (text: string) => {
    notice.show({ kind: 'bad', text });
    void apps.reload();
  };
  const list = apps.data?.apps;
  return (
    <section aria-labelledby="apps-title">
      <PageHeading id="apps-title" at={apps.at} error={apps.error}>
        Apps
      </PageHeading>
      {notice.view}
      {list && list.length === 0 && <p class="quiet">No app is installed yet.</p>}
      {list && list.length > 0 && <AppsTable list={list} onDone={done} onError={failed} />}
      <InstallForm
        onInstalled={(status) => {
          done(`${status.id} ${status.version ?? ''} installed: ${status.state}`);
        }}
      />
    </section>
  );
}
