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
import { ConfirmDialog, ErrorText, Field, Notice, formErrors } from '../components.js';
import { dateTime } from '../format.js';
import { useAction } from '../hooks.js';
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
  const action = useAction();
  const errors = formErrors(
    action.error,
    platformFields.map((item) => item.field),
  );
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
    <form
      class="card"
      aria-labelledby="platform-title"
      onSubmit={(event) => {
        event.preventDefault();
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
        <Field
          key={item.field}
          id={item.id}
          label={item.label}
          hint={item.hint(settings?.defaults)}
          error={errors.field[item.field]}
        >
          {(aria) => (
            <input
              {...aria}
              value={values[item.field]}
              disabled={!settings}
              onInput={(event) => {
                const value = event.currentTarget.value;
                setValues((current) => ({ ...current, [item.field]: value }));
              }}
            />
          )}
        </Field>
      ))}
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy || !settings}>
          {action.busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

function daysLeft(validTo: string): number {
  return Math.floor((new Date(validTo).getTime() - Date.now()) / 86_400_000);
}

function CertificateSection(props: { onSaved: (text: string) => void }) {
  const [status, setStatus] = useState<CertificateStatus>();
  const [loadError, setLoadError] = useState<string>();
  const [bundle, setBundle] = useState<File>();
  const [key, setKey] = useState<File>();
  const [resetting, setResetting] = useState(false);
  const action = useAction();
  const errors = formErrors(action.error, ['cert', 'key'], { CERT_INVALID: 'cert' });
  useEffect(() => {
    call<CertificateStatus>('GET', '/cert').then(setStatus, (error: unknown) => {
      setLoadError(messageOf(error));
    });
  }, []);
  const left = status ? daysLeft(status.validTo) : 0;
  return (
    <div class="card" aria-labelledby="cert-title" role="group">
      <h2 id="cert-title">TLS certificate</h2>
      <ErrorText message={loadError && `Cannot read the certificate: ${loadError}`} />
      {status && (
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
      )}
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
              if (!saved) return;
              setStatus(saved);
              props.onSaved('The new certificate is in use for new connections.');
            });
        }}
      >
        <h3 id="cert-upload-title">Upload a certificate</h3>
        <Field
          id="cert-bundle"
          label="Certificate bundle (PEM)"
          hint="The certificate first, then its intermediates"
          error={errors.field.cert}
        >
          {(aria) => (
            <input
              {...aria}
              type="file"
              accept=".pem,.crt,.cer,text/plain"
              required
              onChange={(event) => {
                setBundle(event.currentTarget.files?.[0]);
                action.clear();
              }}
            />
          )}
        </Field>
        <Field
          id="cert-key"
          label="Private key (PEM)"
          hint="Not encrypted: PKCS#1, PKCS#8 or EC"
          error={errors.field.key}
        >
          {(aria) => (
            <input
              {...aria}
              type="file"
              accept=".pem,.key,text/plain"
              required
              onChange={(event) => {
                setKey(event.currentTarget.files?.[0]);
                action.clear();
              }}
            />
          )}
        </Field>
        <ErrorText message={errors.form} />
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy || !bundle || !key}>
            {action.busy ? 'Checking…' : 'Upload'}
          </button>
          <button
            type="button"
            onClick={() => {
              setResetting(true);
            }}
          >
            Reset to self-signed…
          </button>
        </div>
      </form>
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
  const action = useAction();
  const errors = formErrors(action.error, ['current', 'password']);
  return (
    <form
      class="card"
      aria-labelledby="password-title"
      onSubmit={(event) => {
        event.preventDefault();
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
      <Field id="current-password" label="Current password" error={errors.field.current}>
        {(aria) => (
          <input
            {...aria}
            type="password"
            autocomplete="current-password"
            required
            value={current}
            onInput={(event) => {
              setCurrent(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="new-password"
        label="New password"
        hint="At least 12 characters"
        error={errors.field.password}
      >
        {(aria) => (
          <input
            {...aria}
            type="password"
            autocomplete="new-password"
            required
            value={password}
            onInput={(event) => {
              setPassword(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field id="new-password-again" label="Repeat it" error={mismatch}>
        {(aria) => (
          <input
            {...aria}
            type="password"
            autocomplete="new-password"
            required
            value={again}
            onInput={(event) => {
              setAgain(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Changing…' : 'Change password'}
        </button>
      </div>
    </form>
  );
}

/**
 * Platform label, DNS name and alarm targets, the admin password, the TLS certificate, the
 * configuration file.
 */
export function SettingsPage(props: { onLoggedOut: (message: string) => void }) {
  const [notice, setNotice] = useState<string>();
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
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
      <div class="columns">
        <PlatformForm onSaved={setNotice} />
        <PasswordForm onChanged={props.onLoggedOut} />
      </div>
      <CertificateSection onSaved={setNotice} />
      <ConfigFileSection onDone={setNotice} />
    </section>
  );
}
