import { useState } from 'preact/hooks';
import { call, id, type AppConfigureBody, type AppStatus } from '../api.js';
import {
  AppBadge,
  DangerZone,
  ErrorText,
  Field,
  Freshness,
  Link,
  Notice,
  formErrors,
} from '../components.js';
import { bytes, dateTime } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { LogView } from '../log-view.js';
import { navigate } from '../router.js';
import { AppActions } from './apps.js';

const mib = 1024 * 1024;

/** A whole number input of the configure form; empty means the default. */
function NumberInput(props: {
  id: string;
  label: string;
  hint: string;
  error: string | undefined;
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error}>
      {(aria) => (
        <input
          {...aria}
          type="number"
          inputMode="numeric"
          value={props.value}
          onInput={(event) => {
            props.onInput(event.currentTarget.value);
          }}
        />
      )}
    </Field>
  );
}

/** An input's text as the API takes it: empty is null (the default). */
function numberOrNull(text: string, unit = 1): number | null {
  return text.trim() === '' ? null : Math.round(Number(text) * unit);
}

function ConfigureForm(props: { status: AppStatus; onSaved: (status: AppStatus) => void }) {
  const { status } = props;
  const [autostart, setAutostart] = useState(status.autostart);
  const [logMaxBytes, setLogMaxBytes] = useState(String(status.log.maxBytes));
  const [logFiles, setLogFiles] = useState(String(status.log.files));
  const { limits } = status;
  const [memory, setMemory] = useState(String(Math.round(limits.memoryMaxBytes / mib)));
  const [cpuWeight, setCpuWeight] = useState(String(limits.cpuWeight));
  const [pidsMax, setPidsMax] = useState(String(limits.pidsMax));
  const action = useAction();
  const errors = formErrors(action.error, [
    'autostart',
    'logMaxBytes',
    'logFiles',
    'memoryMaxBytes',
    'cpuWeight',
    'pidsMax',
  ]);
  return (
    <form
      class="card"
      aria-labelledby="configure-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: AppConfigureBody = {
          autostart,
          logMaxBytes: logMaxBytes.trim() === '' ? null : Number(logMaxBytes),
          logFiles: logFiles.trim() === '' ? null : Number(logFiles),
          memoryMaxBytes: numberOrNull(memory, mib),
          cpuWeight: numberOrNull(cpuWeight),
          pidsMax: numberOrNull(pidsMax),
        };
        void action
          .run(() => call<AppStatus>('PATCH', `/apps/${id(status.id)}`, body))
          .then((saved) => {
            if (saved) props.onSaved(saved);
          });
      }}
    >
      <h2 id="configure-title">Configure</h2>
      <label class="check">
        <input
          type="checkbox"
          checked={autostart}
          onChange={(event) => {
            setAutostart(event.currentTarget.checked);
          }}
        />{' '}
        Autostart: start with the manager
      </label>
      <Field
        id="log-max-bytes"
        label="Size of one log file (bytes)"
        hint={`At least 65536; empty for the default. Now ${bytes(status.log.maxBytes)}.`}
        error={errors.field.logMaxBytes}
      >
        {(aria) => (
          <input
            {...aria}
            type="number"
            inputMode="numeric"
            value={logMaxBytes}
            onInput={(event) => {
              setLogMaxBytes(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="log-files"
        label="Log files kept"
        hint="1 to 100; empty for the default"
        error={errors.field.logFiles}
      >
        {(aria) => (
          <input
            {...aria}
            type="number"
            inputMode="numeric"
            value={logFiles}
            onInput={(event) => {
              setLogFiles(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <p class="hint">
        Limits enforced by: {limits.enforcement}
        {limits.memoryKills > 0 ? `; killed ${limits.memoryKills} times for memory` : ''}
      </p>
      <NumberInput
        id="memory-max"
        label="Memory cap (MiB)"
        hint="All its processes together, at least 16; empty for the default"
        error={errors.field.memoryMaxBytes}
        value={memory}
        onInput={setMemory}
      />
      <NumberInput
        id="cpu-weight"
        label="CPU weight"
        hint="1 to 10000, 100 is an equal share; empty for the default"
        error={errors.field.cpuWeight}
        value={cpuWeight}
        onInput={setCpuWeight}
      />
      <NumberInput
        id="pids-max"
        label="Processes and threads"
        hint="16 or more; empty for the default"
        error={errors.field.pidsMax}
        value={pidsMax}
        onInput={setPidsMax}
      />
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

function exitText(status: AppStatus): string {
  const exit = status.lastExit;
  if (!exit) return '-';
  const how =
    exit.code !== null ? `code ${exit.code}` : exit.signal !== null ? `signal ${exit.signal}` : '';
  return `${exit.kind}${how ? `, ${how}` : ''} at ${dateTime(exit.at)}`;
}

/** One app: its state, actions, settings, log; uninstall. */
export function AppPage(props: { id: string }) {
  const polled = usePoll(() => call<AppStatus>('GET', `/apps/${id(props.id)}`), 2500, props.id);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'bad'; text: string }>();
  const [force, setForce] = useState(false);
  const status = polled.data;

  if (!status) {
    return (
      <section>
        <h1>{props.id}</h1>
        <Freshness at={polled.at} error={polled.error} />
        <p>
          <Link to="/apps">All apps</Link>
        </p>
      </section>
    );
  }
  const rows: [string, string][] = [
    ['Title', status.title ?? '-'],
    ['Version', status.version ?? '-'],
    ['Process', status.pid ? `pid ${status.pid}` : '-'],
    ['Since', dateTime(status.since)],
    ['Starts', `${status.startCount}, ${status.restarts} restarts`],
    ['Last exit', exitText(status)],
    ['Hosts instances', status.instances ? 'yes' : 'no'],
  ];
  return (
    <section aria-labelledby="app-title">
      <p class="crumbs">
        <Link to="/apps">Apps</Link> /
      </p>
      <div class="heading">
        <h1 id="app-title">
          {props.id} <AppBadge app={status} nextRestartAt={status.nextRestartAt} />
        </h1>
        <Freshness at={polled.at} error={polled.error} />
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
      <AppActions
        app={status}
        onDone={(text) => {
          setNotice({ kind: 'ok', text });
          void polled.reload();
        }}
        onError={(text) => {
          setNotice({ kind: 'bad', text });
          void polled.reload();
        }}
      />
      <dl class="facts">
        {rows.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {status.instances && (
        <p>
          <Link to={`/instances?app=${id(status.id)}`}>Instances of {status.id}</Link>
        </p>
      )}
      <LogView app={status.id} />
      <div class="columns">
        <ConfigureForm
          key={`${status.autostart}-${status.log.maxBytes}-${status.log.files}-${status.limits.memoryMaxBytes}-${status.limits.cpuWeight}-${status.limits.pidsMax}`}
          status={status}
          onSaved={(saved) => {
            setNotice({ kind: 'ok', text: `${saved.id}: settings saved` });
            void polled.reload();
          }}
        />
        <DangerZone
          title="Uninstall"
          text="Stops the app and removes its folder, data folder, log and user."
          button={`Uninstall ${status.id}…`}
          question={`Uninstall ${status.id}?`}
          confirmLabel="Uninstall"
          onOpen={() => {
            setForce(false);
          }}
          onConfirm={async () => {
            await call('DELETE', `/apps/${id(status.id)}${force ? '?force=true' : ''}`);
            navigate('/apps');
          }}
        >
          <p>
            This stops <strong>{status.id}</strong> and deletes its files and data. It cannot be
            undone.
          </p>
          {status.instances && (
            <label class="check">
              <input
                type="checkbox"
                checked={force}
                onChange={(event) => {
                  setForce(event.currentTarget.checked);
                }}
              />{' '}
              Also delete its instances with their databases
            </label>
          )}
        </DangerZone>
      </div>
    </section>
  );
}
