import { useState } from 'preact/hooks';
import type { StoreAppView, StoreInstallBody, StoreVersionView } from '../../api.js';
import { ConfirmDialog } from '../../components.js';
import { bytes } from '../../format.js';
import type { Pending } from './progress.js';

function versionText(v: StoreVersionView): string {
  return `${v.version} (build ${v.build}, ${v.label})`;
}

function LabelBadge(props: { label: string }) {
  return <span class={`badge ${props.label === 'final' ? 'ok' : 'warn'}`}>{props.label}</span>;
}

/** One app's row: what the store offers, what is installed, and install, update or downgrade. */
export function StoreAppRow(props: {
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
