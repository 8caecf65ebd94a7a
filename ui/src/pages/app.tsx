import { useState } from 'preact/hooks';
import { call, id, type AppConfigureBody, type AppStatus } from '../api.js';
import {
  AppBadge,
  DangerZone,
  Facts,
  Link,
  NotLoaded,
  PageHeading,
  useNotice,
} from '../components.js';
import { Checkbox, FormCard, NumberField, SubmitRow, useForm } from '../forms.js';
import { bytes, dateTime } from '../format.js';
import { usePoll } from '../hooks.js';
import { LogView } from '../log-view.js';
import { navigate } from '../router.js';
import { AppActions } from './apps.js';

const mib = 1024 * 1024;

/** An input's text as the API takes it: empty is null (the default). */
function numberOrNull(text: string, unit = 1): number | null {
  return text.trim() === '' ? null : Math.round(Number(text) * unit);
}

/** The form's texts of the app's settings now. */
function textsOf(status: AppStatus) {
  const { log, limits } = status;
  return {
    logMaxBytes: String(log.maxBytes),
    logFiles: String(log.files),
    memory: String(Math.round(limits.memoryMaxBytes / mib)),
    cpuWeight: String(limits.cpuWeight),
    pidsMax: String(limits.pidsMax),
  };
}

type Texts = ReturnType<typeof textsOf>;

/** What the configure form sends. */
function configureBody(autostart: boolean, texts: Texts): AppConfigureBody {
  return {
    autostart,
    logMaxBytes: texts.logMaxBytes.trim() === '' ? null : Number(texts.logMaxBytes),
    logFiles: texts.logFiles.trim() === '' ? null : Number(texts.logFiles),
    memoryMaxBytes: numberOrNull(texts.memory, mib),
    cpuWeight: numberOrNull(texts.cpuWeight),
    pidsMax: numberOrNull(texts.pidsMax),
  };
}

/** The number fields of the configure form, each a text of `texts`: empty is the default. */
const numberFields: {
  text: keyof Texts;
  field: keyof AppConfigureBody;
  id: string;
  label: string;
  hint: (status: AppStatus) => string;
}[] = [
  {
    text: 'logMaxBytes',
    field: 'logMaxBytes',
    id: 'log-max-bytes',
    label: 'Size of one log file (bytes)',
    hint: (status) => `At least 65536; empty for the default. Now ${bytes(status.log.maxBytes)}.`,
  },
  {
    text: 'logFiles',
    field: 'logFiles',
    id: 'log-files',
    label: 'Log files kept',
    hint: () => '1 to 100; empty for the default',
  },
  {
    text: 'memory',
    field: 'memoryMaxBytes',
    id: 'memory-max',
    label: 'Memory cap (MiB)',
    hint: () => 'All its processes together, at least 16; empty for the default',
  },
  {
    text: 'cpuWeight',
    field: 'cpuWeight',
    id: 'cpu-weight',
    label: 'CPU weight',
    hint: () => '1 to 10000, 100 is an equal share; empty for the default',
  },
  {
    text: 'pidsMax',
    field: 'pidsMax',
    id: 'pids-max',
    label: 'Processes and threads',
    hint: () => '16 or more; empty for the default',
  },
];

function ConfigureForm(props: { status: AppStatus; onSaved: (status: AppStatus) => void }) {
  const { status } = props;
  const { limits } = status;
  const [autostart, setAutostart] = useState(status.autostart);
  const [texts, setTexts] = useState(() => textsOf(status));
  const { action, errors } = useForm(numberFields.map((item) => item.field).concat('autostart'));
  const numberField = (item: (typeof numberFields)[number]) => (
    <NumberField
      key={item.id}
      id={item.id}
      label={item.label}
      hint={item.hint(status)}
      error={errors.field[item.field]}
      value={texts[item.text]}
      onValue={(value) => {
        setTexts((current) => ({ ...current, [item.text]: value }));
      }}
    />
  );
  return (
    <FormCard
      labelledBy="configure-title"
      onSubmit={() => {
        const body = configureBody(autostart, texts);
        void action
          .run(() => call<AppStatus>('PATCH', `/apps/${id(status.id)}`, body))
          .then((saved) => {
            if (saved) props.onSaved(saved);
          });
      }}
    >
      <h2 id="configure-title">Configure</h2>
      <Checkbox class="check" checked={autostart} onChange={setAutostart}>
        Autostart: start with the manager
      </Checkbox>
      {numberFields.slice(0, 2).map(numberField)}
      <p class="hint">
        Limits enforced by: {limits.enforcement}
        {limits.memoryKills > 0 ? `; killed ${limits.memoryKills} times for memory` : ''}
      </p>
      {numberFields.slice(2).map(numberField)}
      <SubmitRow error={errors.form} busy={action.busy} label="Save" busyLabel="Saving…" />
    </FormCard>
  );
}

function exitText(status: AppStatus): string {
  const exit = status.lastExit;
  if (!exit) return '-';
  const how =
    exit.code !== null ? `code ${exit.code}` : exit.signal !== null ? `signal ${exit.signal}` : '';
  return `${exit.kind}${how ? `, ${how}` : ''} at ${dateTime(exit.at)}`;
}

/** Uninstalls the app (after a question; with its instances when asked) and goes back. */
function UninstallApp(props: { status: AppStatus }) {
  const { status } = props;
  const [force, setForce] = useState(false);
  return (
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
        This stops <strong>{status.id}</strong> and deletes its files and data. It cannot be undone.
      </p>
      {status.instances && (
        <Checkbox class="check" checked={force} onChange={setForce}>
          Also delete its instances with their databases
        </Checkbox>
      )}
    </DangerZone>
  );
}

/** One app: its state, actions, settings, log; uninstall. */
export function AppPage(props: { id: string }) {
  const polled = usePoll(() => call<AppStatus>('GET', `/apps/${id(props.id)}`), 2500, props.id);
  const notice = useNotice((shown: { kind: 'ok' | 'bad'; text: string }) => ({
    kind: shown.kind,
    children: shown.text,
  }));
  const status = polled.data;
  const told = (kind: 'ok' | 'bad', text: string) => {
    notice.show({ kind, text });
    void polled.reload();
  };

  if (!status) {
    return (
      <NotLoaded
        title={props.id}
        at={polled.at}
        error={polled.error}
        back="/apps"
        backLabel="All apps"
      />
    );
  }
  return (
    <section aria-labelledby="app-title">
      <p class="crumbs">
        <Link to="/apps">Apps</Link> /
      </p>
      <PageHeading id="app-title" at={polled.at} error={polled.error}>
        {props.id} <AppBadge app={status} nextRestartAt={status.nextRestartAt} />
      </PageHeading>
      {notice.view}
      <AppActions
        app={status}
        onDone={(text) => {
          told('ok', text);
        }}
        onError={(text) => {
          told('bad', text);
        }}
      />
      <Facts
        facts={[
          ['Title', status.title ?? '-'],
          ['Version', status.version ?? '-'],
          ['Process', status.pid ? `pid ${status.pid}` : '-'],
          ['Since', dateTime(status.since)],
          ['Starts', `${status.startCount}, ${status.restarts} restarts`],
          ['Last exit', exitText(status)],
          ['Hosts instances', status.instances ? 'yes' : 'no'],
        ]}
      />
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
            told('ok', `${saved.id}: settings saved`);
          }}
        />
        <UninstallApp status={status} />
      </div>
    </section>
  );
}
