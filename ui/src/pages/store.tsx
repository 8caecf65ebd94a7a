import { useState } from 'preact/hooks';
import {
  ApiError,
  call,
  id,
  messageOf,
  type StoreAppView,
  type StoreInstallBody,
  type StoreListing,
  type StoreOperation,
  type StoreResult,
  type StoreSource,
  type StoreSourceBody,
  type StoreSourceList,
  type StoreVersionView,
  type UpdateCheck,
} from '../api.js';
import {
  ConfirmDialog,
  ErrorText,
  Field,
  Freshness,
  Notice,
  formErrors,
  ListTable,
} from '../components.js';
import { bytes, dateTime } from '../format.js';
import { useAction, usePoll } from '../hooks.js';

/** Everything the page shows, loaded together. */
interface StoreData {
  sources: StoreSource[];
  listing: StoreListing;
  check: UpdateCheck;
}

async function loadStore(): Promise<StoreData> {
  const [sources, listing, check] = await Promise.all([
    call<StoreSourceList>('GET', '/store/sources'),
    call<StoreListing>('GET', '/store/apps'),
    call<UpdateCheck>('GET', '/store/updates'),
  ]);
  return { sources: sources.sources, listing, check };
}

/** An install or update the page has asked for and waits on. */
interface Pending {
  app: string;
  text: string;
}

type Outcome = { kind: 'ok' | 'bad'; title: string; text?: string };

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
function OperationProgress(props: { pending: Pending }) {
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
function failureOutcome(app: string, action: string, error: unknown): Outcome {
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

function versionText(v: StoreVersionView): string {
  return `${v.version} (build ${v.build}, ${v.label})`;
}

function LabelBadge(props: { label: string }) {
  return <span class={`badge ${props.label === 'final' ? 'ok' : 'warn'}`}>{props.label}</span>;
}

/** One app's row: what the store offers, what is installed, and install, update or downgrade. */
function StoreAppRow(props: {
  app: StoreAppView;
  busy: boolean;
  onRun: (pending: Pending, body: StoreInstallBody, path: 'install' | 'update') => void;
}) {
  const { app } = props;
  const [chosen, setChosen] = useState(String(app.latest.build));
  const [autostart, setAutostart] = useState(true);
  const [confirming, setConfirming] = useState(false);
  const version = app.versions.find((v) => String(v.build) === chosen) ?? app.latest;
  const installed = app.installed;
  const installedBuild = installed?.build ?? null;
  const older = installedBuild !== null && version.build < installedBuild;
  const same = installedBuild !== null && version.build === installedBuild;
  const label = !installed
    ? 'Install'
    : older
      ? `Downgrade to ${version.version}`
      : same
        ? 'Installed'
        : `Update to ${version.version}`;
  const body: StoreInstallBody = { version: String(version.build), store: app.store };

  const act = () => {
    if (!installed) {
      props.onRun({ app: app.id, text: `Installing ${app.id}` }, { ...body, autostart }, 'install');
    } else if (older) setConfirming(true);
    else props.onRun({ app: app.id, text: `Updating ${app.id}` }, body, 'update');
  };
  return (
    <tr key={app.id} data-store-app={app.id} class={app.updateAvailable ? 'highlight' : undefined}>
      <th scope="row" data-label="App">
        {app.title}
        <div class="quiet">
          <code>{app.id}</code> from {app.store}
        </div>
      </th>
      <td data-label="Description">{app.description || '-'}</td>
      <td data-label="Latest">
        {app.latest.version} <LabelBadge label={app.latest.label} />{' '}
        <span class={`badge ${app.latest.signed ? 'ok' : 'warn'}`}>
          {app.latest.signed ? 'signed' : 'unsigned'}
        </span>
        <div class="quiet">{bytes(app.latest.size)}</div>
      </td>
      <td data-label="Installed">
        {installed ? (installed.version ?? '(no version)') : 'no'}
        {app.updateAvailable && (
          <>
            {' '}
            <span class="badge warn">update available</span>
          </>
        )}
      </td>
      <td>
        <div class="buttons">
          <label class="visually-hidden" for={`store-version-${app.id}`}>
            Version of {app.id}
          </label>
          <select
            id={`store-version-${app.id}`}
            value={chosen}
            disabled={props.busy}
            onChange={(event) => {
              setChosen(event.currentTarget.value);
            }}
          >
            {app.versions.map((v) => (
              <option key={v.build} value={String(v.build)}>
                {versionText(v)}
                {v.signed ? '' : ', unsigned'}
              </option>
            ))}
          </select>
          <button
            type="button"
            class={older ? 'danger' : 'primary'}
            disabled={props.busy || same}
            onClick={act}
          >
            {label}
          </button>
          {!installed && (
            <label>
              <input
                type="checkbox"
                checked={autostart}
                disabled={props.busy}
                onChange={(event) => {
                  setAutostart(event.currentTarget.checked);
                }}
              />{' '}
              Start it now and with the manager
            </label>
          )}
        </div>
        <ConfirmDialog
          open={confirming}
          title={`Downgrade ${app.id} to ${version.version}?`}
          confirmLabel="Downgrade"
          danger
          onClose={() => {
            setConfirming(false);
          }}
          onConfirm={() => {
            props.onRun(
              { app: app.id, text: `Downgrading ${app.id}` },
              { ...body, force: true },
              'update',
            );
            return Promise.resolve();
          }}
        >
          <p>
            Build {version.build} is older than the installed build {installedBuild}. Its instances
            are backed up first, but an older version may not understand data the newer one wrote.
          </p>
        </ConfirmDialog>
      </td>
    </tr>
  );
}

/** Add (or replace) an app store: name, URL, trusted keys, unsigned allowed. */
function AddSourceForm(props: { onAdded: (source: StoreSource) => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [keys, setKeys] = useState('');
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const action = useAction();
  const errors = formErrors(action.error, ['name', 'url', 'keys']);
  return (
    <form
      class="card"
      aria-labelledby="store-add-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: StoreSourceBody = {
          url: url.trim(),
          keys: keys
            .split('\n')
            .map((key) => key.trim())
            .filter(Boolean),
          allowUnsigned,
        };
        void action
          .run(() => call<StoreSource>('PUT', `/store/sources/${id(name.trim() || '-')}`, body))
          .then((source) => {
            if (!source) return;
            setName('');
            setUrl('');
            setKeys('');
            setAllowUnsigned(false);
            props.onAdded(source);
          });
      }}
    >
      <h2 id="store-add-title">Add an app store</h2>
      <Field
        id="store-name"
        label="Name"
        hint="1 to 40 of a-z 0-9 - _; a store of the same name is replaced"
        error={errors.field.name}
      >
        {(aria) => (
          <input
            {...aria}
            value={name}
            required
            disabled={action.busy}
            onInput={(event) => {
              setName(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="store-url"
        label="URL"
        hint="Of its apps.json (a URL ending in / gets apps.json added)"
        error={errors.field.url}
      >
        {(aria) => (
          <input
            {...aria}
            type="url"
            value={url}
            required
            disabled={action.busy}
            placeholder="https://apps.example.com/apps.json"
            onInput={(event) => {
              setUrl(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="store-keys"
        label="Public keys"
        hint="One a line: the Ed25519 keys its index and packages are signed with (appvisor store keygen prints one)"
        error={errors.field.keys}
      >
        {(aria) => (
          <textarea
            {...aria}
            rows={2}
            value={keys}
            disabled={action.busy}
            spellcheck={false}
            onInput={(event) => {
              setKeys(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <div class="checks">
        <label>
          <input
            type="checkbox"
            checked={allowUnsigned}
            disabled={action.busy}
            onChange={(event) => {
              setAllowUnsigned(event.currentTarget.checked);
            }}
          />{' '}
          Allow unsigned packages
        </label>
      </div>
      {allowUnsigned && (
        <p class="warning" role="note">
          <strong>Unsafe:</strong> packages and indexes of this store are then installed even when
          they are not signed or their signature does not verify. Whoever can change the store, or
          the connection to it, can run their code on this machine.
        </p>
      )}
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Adding…' : 'Add store'}
        </button>
      </div>
    </form>
  );
}

/** The configured stores, each with a Remove that asks first. */
function SourcesTable(props: { sources: StoreSource[]; onRemoved: (name: string) => void }) {
  const [removing, setRemoving] = useState<string>();
  if (props.sources.length === 0) {
    return <p class="quiet">No app store is configured yet: add one below.</p>;
  }
  return (
    <>
      <ListTable columns={['Name', 'URL', 'Keys', 'Unsigned']} actions>
        {props.sources.map((source) => (
          <tr key={source.name} data-store={source.name}>
            <th scope="row" data-label="Name">
              {source.name}
            </th>
            <td data-label="URL" class="wrap">
              <code>{source.url}</code>
            </td>
            <td data-label="Keys">{source.keys.length}</td>
            <td data-label="Unsigned">
              {source.allowUnsigned ? <span class="badge warn">allowed</span> : 'refused'}
            </td>
            <td>
              <button
                type="button"
                aria-label={`Remove ${source.name}`}
                onClick={() => {
                  setRemoving(source.name);
                }}
              >
                Remove
              </button>
            </td>
          </tr>
        ))}
      </ListTable>
      <ConfirmDialog
        open={removing !== undefined}
        title={`Remove the app store ${removing ?? ''}?`}
        confirmLabel="Remove"
        danger
        onClose={() => {
          setRemoving(undefined);
        }}
        onConfirm={async () => {
          if (removing === undefined) return;
          await call('DELETE', `/store/sources/${id(removing)}`);
          props.onRemoved(removing);
        }}
      >
        <p>Its apps are no longer listed. Apps installed from it stay installed.</p>
      </ConfirmDialog>
    </>
  );
}

/** The app stores: what they offer, install, update, downgrade, the update check, the stores. */
export function StorePage() {
  const store = usePoll(loadStore, 10_000);
  const [pending, setPending] = useState<Pending>();
  const [outcome, setOutcome] = useState<Outcome>();
  const checking = useAction();
  const data = store.data;

  const runOperation = (next: Pending, body: StoreInstallBody, path: 'install' | 'update') => {
    setPending(next);
    setOutcome(undefined);
    call<StoreResult>('POST', `/store/apps/${id(next.app)}/${path}`, body).then(
      (result) => {
        setPending(undefined);
        setOutcome({
          kind: 'ok',
          title: result.changed
            ? `${result.app} ${result.to.version} (build ${result.to.build}) ${result.from ? `installed, was ${result.from.version ?? 'no version'}` : 'installed'}: ${result.status.state}`
            : `${result.app} is at ${result.to.version} already`,
        });
        void store.reload();
      },
      (error: unknown) => {
        setPending(undefined);
        setOutcome(failureOutcome(next.app, path === 'install' ? 'Installing' : 'Updating', error));
        void store.reload();
      },
    );
  };

  const check = data?.check;
  const updates = check?.updates.length ?? 0;
  return (
    <section aria-labelledby="store-title">
      <div class="heading">
        <h1 id="store-title">App store</h1>
        <Freshness at={store.at} error={store.error} />
      </div>
      {outcome && (
        <Notice
          kind={outcome.kind}
          onDismiss={() => {
            setOutcome(undefined);
          }}
        >
          <p>{outcome.title}</p>
          {outcome.text && <p>{outcome.text}</p>}
        </Notice>
      )}
      {pending && <OperationProgress pending={pending} />}

      <div class="inline-check">
        <button
          type="button"
          disabled={checking.busy}
          onClick={() => {
            void checking
              .run(() => call<UpdateCheck>('POST', '/store/check'))
              .then((result) => {
                if (result) void store.reload();
              });
          }}
        >
          {checking.busy ? 'Checking…' : 'Check for updates'}
        </button>{' '}
        <span class="quiet" data-testid="last-check">
          {check?.checkedAt
            ? `Last checked ${dateTime(check.checkedAt)}: ${updates === 0 ? 'every app is up to date' : `${updates} update${updates === 1 ? '' : 's'} available`}.`
            : 'Not checked yet.'}
        </span>
      </div>
      <ErrorText
        message={checking.error === undefined ? undefined : `Check: ${messageOf(checking.error)}`}
      />

      {data && data.listing.errors.length > 0 && (
        <div class="warning" role="alert" data-testid="store-problems">
          <p>
            <strong>Some app stores could not be read</strong>; their apps are not listed:
          </p>
          <ul>
            {data.listing.errors.map((problem) => (
              <li key={problem.store}>
                <strong>{problem.store}</strong>: <code>{problem.code}</code> {problem.message}
              </li>
            ))}
          </ul>
        </div>
      )}

      <h2>Apps</h2>
      {data && data.listing.apps.length === 0 && (
        <p class="quiet">
          {data.sources.length === 0 ? 'Add an app store to see its apps.' : 'No app is offered.'}
        </p>
      )}
      {data && data.listing.apps.length > 0 && (
        <ListTable columns={['App', 'Description', 'Latest', 'Installed']} actions>
          {data.listing.apps.map((app) => (
            <StoreAppRow
              key={`${app.id}-${app.latest.build}`}
              app={app}
              busy={pending !== undefined}
              onRun={runOperation}
            />
          ))}
        </ListTable>
      )}

      <h2>Stores</h2>
      {data && (
        <SourcesTable
          sources={data.sources}
          onRemoved={(name) => {
            setOutcome({ kind: 'ok', title: `App store ${name} removed.` });
            void store.reload();
          }}
        />
      )}
      <AddSourceForm
        onAdded={(source) => {
          setOutcome({ kind: 'ok', title: `App store ${source.name} added.` });
          void store.reload();
        }}
      />
    </section>
  );
}
