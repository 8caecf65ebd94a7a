import { useEffect, useState } from 'preact/hooks';
import {
  call,
  messageOf,
  type CertificateBody,
  type CertificateStatus,
  type PasswordAnswer,
  type PlatformSettings,
  type PlatformSettingsChange,
} from '../api.js';
import { ConfirmDialog, ErrorText, useNotice } from '../components.js';
import { FileField, FormCard, SubmitRow, TextField, useForm } from '../forms.js';
import { dateTime } from '../format.js';
import { ConfigFileSection } from './settings/config-file.js';

type PlatformFields = Required<PlatformSettingsChange>;

const platformFields: {
  field: keyof PlatformFields;
  id: string;
  label: string;
  hint: (defaults: PlatformSettings['defaults'] | undefined) => string;
}[] = [
  {
    field: 'label',
    id: 'settings-label',
    label: 'Label',
    hint: () => 'A name for this platform, up to 64 characters',
  },
  {
    field: 'dnsName',
    id: 'settings-dns',
    label: 'DNS name',
    hint: () => 'The host name the platform is reached by, e.g. apps.example.com',
  },
  {
    field: 'alarmUrl',
    id: 'settings-alarm-url',
    label: 'Alarm URL',
    hint: (defaults) =>
      `Each alarm raise and clear is POSTed here as JSON (http:// or https://). Empty: ${
        defaults?.alarmUrl ? `the configured ${originOf(defaults.alarmUrl)}…` : 'none'
      }`,
  },
  {
    field: 'alarmEmail',
    id: 'settings-alarm-email',
    label: 'Alarm e-mail',
    hint: (defaults) =>
      `Recipients of alarm e-mails, comma-separated (needs alarms.smtp.host). Empty: ${
        defaults?.alarmEmail ? `the configured ${defaults.alarmEmail}` : 'none'
      }`,
  },
];

/** The origin of a URL only: the configured one may carry credentials. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'URL';
  }
}

function fieldsOf(settings: PlatformSettings): PlatformFields {
  const { label, dnsName, alarmUrl, alarmEmail } = settings;
  return { label, dnsName, alarmUrl, alarmEmail };
}

function PlatformForm(props: { onSaved: (text: string) => void }) {
  const [settings, setSettings] = useState<PlatformSettings>();
  const [loadError, setLoadError] = useState<string>();
  const [values, setValues] = useState<PlatformFields>({
    label: '',
    dnsName: '',
    alarmUrl: '',
    alarmEmail: '',
  });
  const { action, errors } = useForm(platformFields.map((item) => item.field));
  const loaded = (answer: PlatformSettings) => {
    setSettings(answer);
    setValues(fieldsOf(answer));
  };
  useEffect(() => {
    call<PlatformSettings>('GET', '/settings').then(loaded, (error: unknown) => {
      setLoadError(messageOf(error));
    });
  }, []);
  return (
    <FormCard
      labelledBy="platform-title"
      onSubmit={() => {
        void action
          .run(() => call<PlatformSettings>('PATCH', '/settings', values))
          .then((saved) => {
            if (!saved) return;
            loaded(saved);
            props.onSaved('Platform settings saved.');
          });
      }}
    >
      <h2 id="platform-title">Platform</h2>
      <ErrorText message={loadError && `Cannot load the settings: ${loadError}`} />
      {platformFields.map((item) => (
        <TextField
          key={item.field}
          id={item.id}
          label={item.label}
          hint={item.hint(settings?.defaults)}
          error={errors.field[item.field]}
          value={values[item.field]}
          disabled={!settings}
          onValue={(value) => {
            setValues((current) => ({ ...current, [item.field]: value }));
          }}
        />
      ))}
      <SubmitRow
        error={errors.form}
        busy={action.busy}
        disabled={!settings}
        label="Save"
        busyLabel="Saving…"
      />
    </FormCard>
  );
}

function daysLeft(validTo: string): number {
  return Math.floor((new Date(validTo).getTime() - Date.now()) / 86_400_000);
}

/** What the certificate in use is: subject, issuer, expiry, chain, fingerprint. */
function CertificateFacts(props: { status: CertificateStatus }) {
  const { status } = props;
  const left = daysLeft(status.validTo);
  return (
    <dl class="facts" data-testid="cert-facts">
      <div>
        <dt>Subject</dt>
        <dd>{status.subject.replace(/\n/g, ', ')}</dd>
      </div>
      <div>
        <dt>Issuer</dt>
        <dd>
          {status.issuer.replace(/\n/g, ', ')}
          {status.selfSigned ? ' (self-signed)' : ''}
        </dd>
      </div>
      <div>
        <dt>Expires</dt>
        <dd class={left < 14 ? 'warn-text' : undefined}>
          {dateTime(status.validTo)} ({left >= 0 ? `in ${left} days` : 'expired'})
        </dd>
      </div>
      <div>
        <dt>Chain</dt>
        <dd>{status.chainLength} certificate(s)</dd>
      </div>
      <div>
        <dt>SHA-256</dt>
        <dd class="wrap">
          <code>{status.fingerprint256}</code>
        </dd>
      </div>
    </dl>
  );
}

/** Upload a PEM bundle and its key; the reset button opens the question (`onReset`). */
function CertificateUpload(props: {
  onSaved: (status: CertificateStatus) => void;
  onReset: () => void;
}) {
  const [bundle, setBundle] = useState<File>();
  const [key, setKey] = useState<File>();
  const { action, errors } = useForm(['cert', 'key'], { CERT_INVALID: 'cert' });
  return (
    <form
      aria-labelledby="cert-upload-title"
      onSubmit={(event) => {
        event.preventDefault();
        if (!bundle || !key) return;
        void action
          .run(async () => {
            const body: CertificateBody = { cert: await bundle.text(), key: await key.text() };
            return call<CertificateStatus>('PUT', '/cert', body);
          })
          .then((saved) => {
            if (saved) props.onSaved(saved);
          });
      }}
    >
      <h3 id="cert-upload-title">Upload a certificate</h3>
      <FileField
        id="cert-bundle"
        label="Certificate bundle (PEM)"
        hint="The certificate first, then its intermediates"
        error={errors.field.cert}
        accept=".pem,.crt,.cer,text/plain"
        required
        onFile={(file) => {
          setBundle(file);
          action.clear();
        }}
      />
      <FileField
        id="cert-key"
        label="Private key (PEM)"
        hint="Not encrypted: PKCS#1, PKCS#8 or EC"
        error={errors.field.key}
        accept=".pem,.key,text/plain"
        required
        onFile={(file) => {
          setKey(file);
          action.clear();
        }}
      />
      <SubmitRow
        error={errors.form}
        busy={action.busy}
        disabled={!bundle || !key}
        label="Upload"
        busyLabel="Checking…"
      >
        <button type="button" onClick={props.onReset}>
          Reset to self-signed…
        </button>
      </SubmitRow>
    </form>
  );
}

function CertificateSection(props: { onSaved: (text: string) => void }) {
  const [status, setStatus] = useState<CertificateStatus>();
  const [loadError, setLoadError] = useState<string>();
  const [resetting, setResetting] = useState(false);
  useEffect(() => {
    call<CertificateStatus>('GET', '/cert').then(setStatus, (error: unknown) => {
      setLoadError(messageOf(error));
    });
  }, []);
  return (
    <div class="card" aria-labelledby="cert-title" role="group">
      <h2 id="cert-title">TLS certificate</h2>
      <ErrorText message={loadError && `Cannot read the certificate: ${loadError}`} />
      {status && <CertificateFacts status={status} />}
      <CertificateUpload
        onSaved={(saved) => {
          setStatus(saved);
          props.onSaved('The new certificate is in use for new connections.');
        }}
        onReset={() => {
          setResetting(true);
        }}
      />
      <ConfirmDialog
        open={resetting}
        title="Go back to a self-signed certificate?"
        confirmLabel="Reset"
        onClose={() => {
          setResetting(false);
        }}
        onConfirm={async () => {
          setStatus(await call<CertificateStatus>('POST', '/cert/reset'));
          props.onSaved('A new self-signed certificate is in use.');
        }}
      >
        <p>
          Browsers will warn about a self-signed certificate. The current certificate is replaced.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function PasswordForm(props: { onChanged: (message: string) => void }) {
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [mismatch, setMismatch] = useState<string>();
  const { action, errors } = useForm(['current', 'password']);
  return (
    <FormCard
      labelledBy="password-title"
      onSubmit={() => {
        if (password !== again) {
          setMismatch('The two passwords differ.');
          return;
        }
        setMismatch(undefined);
        void action
          .run(() => call<PasswordAnswer>('PUT', '/admin/password', { current, password }))
          .then((answer) => {
            // Every login ended with the change, this one too.
            if (answer) props.onChanged('The admin password was changed. Log in with the new one.');
          });
      }}
    >
      <h2 id="password-title">Admin password</h2>
      <p class="hint">Changing it ends every login, this one too.</p>
      <TextField
        id="current-password"
        label="Current password"
        error={errors.field.current}
        type="password"
        autocomplete="current-password"
        required
        value={current}
        onValue={setCurrent}
      />
      <TextField
        id="new-password"
        label="New password"
        hint="At least 12 characters"
        error={errors.field.password}
        type="password"
        autocomplete="new-password"
        required
        value={password}
        onValue={setPassword}
      />
      <TextField
        id="new-password-again"
        label="Repeat it"
        error={mismatch}
        type="password"
        autocomplete="new-password"
        required
        value={again}
        onValue={setAgain}
      />
      <SubmitRow
        error={errors.form}
        busy={action.busy}
        label="Change password"
        busyLabel="Changing…"
      />
    </FormCard>
  );
}

/**
 * Platform label, DNS name and alarm targets, the admin password, the TLS certificate, the
 * configuration file.
 */
export function SettingsPage(props: { onLoggedOut: (message: string) => void }) {
  const notice = useNotice((text: string) => ({ kind: 'ok', children: text }));
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      {notice.view}
      <div class="columns">
        <PlatformForm onSaved={notice.show} />
        <PasswordForm onChanged={props.onLoggedOut} />
      </div>
      <CertificateSection onSaved={notice.show} />
      <ConfigFileSection onDone={notice.show} />
    </section>
  );
}
