import { useState } from 'preact/hooks';
import type { StoreAppView, StoreInstallBody, StoreVersionView } from '../../api.js';
import { ConfirmDialog } from '../../components.js';
import { Checkbox } from '../../forms.js';
import { bytes } from '../../format.js';
import type { Pending } from './progress.js';

function versionText(v: StoreVersionView): string {
  return `${v.version} (build ${v.build}, ${v.label})`;
}

function LabelBadge(props: { label: string }) {
  return <span class={`badge ${props.label === 'final' ? 'ok' : 'warn'}`}>{props.label}</span>;
}

/** The row's cells of what the store offers and what is installed. */
function OfferCells(props: { app: StoreAppView }) {
  const { app } = props;
  const installed = app.installed;
  return (
    <>
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
    </>
  );
}

/** The version to install, update or downgrade to, as a select named for screen readers. */
function VersionSelect(props: {
  app: StoreAppView;
  chosen: string;
  busy: boolean;
  onChoose: (build: string) => void;
}) {
  const { app } = props;
  return (
    <>
      <label class="visually-hidden" for={`store-version-${app.id}`}>
        Version of {app.id}
      </label>
      <select
        id={`store-version-${app.id}`}
        value={props.chosen}
        disabled={props.busy}
        onChange={(event) => {
          props.onChoose(event.currentTarget.value);
        }}
      >
        {app.versions.map((v) => (
          <option key={v.build} value={String(v.build)}>
            {versionText(v)}
            {v.signed ? '' : ', unsigned'}
          </option>
        ))}
      </select>
    </>
  );
}

/** Asks before a downgrade: the older version may not read what the newer one wrote. */
function DowngradeDialog(props: {
  open: boolean;
  app: string;
  version: StoreVersionView;
  installedBuild: number | null;
  onClose: () => void;
  onConfirm: () => void;
}) {
  return (
    <ConfirmDialog
      open={props.open}
      title={`Downgrade ${props.app} to ${props.version.version}?`}
      confirmLabel="Downgrade"
      danger
      onClose={props.onClose}
      onConfirm={props.onConfirm}
    >
      <p>
        Build {props.version.build} is older than the installed build {props.installedBuild}. Its
        instances are backed up first, but an older version may not understand data the newer one
        wrote.
      </p>
    </ConfirmDialog>
  );
}

/** What the row's button does with the chosen version, by what is installed. */
function choice(app: StoreAppView, version: StoreVersionView) {
  const installedBuild = app.installed?.build ?? null;
  const older = installedBuild !== null && version.build < installedBuild;
  const same = installedBuild !== null && version.build === installedBuild;
  const label = !app.installed
    ? 'Install'
    : older
      ? `Downgrade to ${version.version}`
      : same
        ? 'Installed'
        : `Update to ${version.version}`;
  return { installedBuild, older, same, label };
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
  const { installedBuild, older, same, label } = choice(app, version);
  const body: StoreInstallBody = { version: String(version.build), store: app.store };

  const act = () => {
    if (!app.installed) {
      props.onRun({ app: app.id, text: `Installing ${app.id}` }, { ...body, autostart }, 'install');
    } else if (older) setConfirming(true);
    else props.onRun({ app: app.id, text: `Updating ${app.id}` }, body, 'update');
  };
  return (
    <tr key={app.id} data-store-app={app.id} class={app.updateAvailable ? 'highlight' : undefined}>
      <OfferCells app={app} />
      <td>
        <div class="buttons">
          <VersionSelect app={app} chosen={chosen} busy={props.busy} onChoose={setChosen} />
          <button
            type="button"
            class={older ? 'danger' : 'primary'}
            disabled={props.busy || same}
            onClick={act}
          >
            {label}
          </button>
          {!app.installed && (
            <Checkbox checked={autostart} disabled={props.busy} onChange={setAutostart}>
              Start it now and with the manager
            </Checkbox>
          )}
        </div>
        <DowngradeDialog
          open={confirming}
          app={app.id}
          version={version}
          installedBuild={installedBuild}
          onClose={() => {
            setConfirming(false);
          }}
          onConfirm={() => {
            props.onRun(
              { app: app.id, text: `Downgrading ${app.id}` },
              { ...body, force: true },
              'update',
            );
          }}
        />
      </td>
    </tr>
  );
}
