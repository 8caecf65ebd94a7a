import { useEffect, useState } from 'preact/hooks';
import {
  call,
  id,
  messageOf,
  type AppList,
  type AppStatus,
  type InstanceCreateBody,
  type InstanceList,
  type InstanceView,
  type StatusReport,
} from '../api.js';
import {
  ErrorText,
  Field,
  Freshness,
  InstanceBadge,
  Link,
  Notice,
  formErrors,
  ListTable,
} from '../components.js';
import { useAction, usePoll } from '../hooks.js';
import { MeasuredNote, OrderChoice, SizeCells, type InstanceOrder } from './instance-usage.js';

/**
 * The front's origin as this browser reaches it: apps' pages are served there, never on the
 * admin origin this UI comes from. HTTPS when the front serves it.
 */
async function frontOrigin(): Promise<string> {
  const report = await call<StatusReport>('GET', '/status');
  const listen = report.manager.listen;
  const front = listen.find((a) => a.scheme === 'https') ?? listen.find((a) => a.scheme === 'http');
  if (!front) return location.origin;
  const standard =
    (front.scheme === 'http' && front.port === 80) ||
    (front.scheme === 'https' && front.port === 443);
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  return `${front.scheme}://${host}${standard ? '' : `:${front.port}`}`;
}

let frontBase: Promise<string> | undefined;

/**
 * Opens the instance's page (on the front's origin) in a new tab, with a grant in the URL's
 * fragment that lets the page ask the front for admin logins to this instance only (the page
 * cannot use this UI's session: it lives on another origin).
 */
export function openInstance(instance: Pick<InstanceView, 'id' | 'path'>): void {
  frontBase ??= frontOrigin().catch((error: unknown) => {
    frontBase = undefined;
    throw error;
  });
  void Promise.all([
    frontBase,
    call<{ token: string }>('POST', `/instances/${id(instance.id)}/open`),
  ]).then(([base, grant]) => {
    window.open(
      `${base}${instance.path}/#appvisor-grant=${encodeURIComponent(grant.token)}`,
      '_blank',
      'noopener',
    );
  });
}

/** Learns the front's origin ahead of a click, so that the tab opens within the gesture. */
export function useFrontOrigin(): void {
  useEffect(() => {
    frontBase ??= frontOrigin().catch((error: unknown) => {
      frontBase = undefined;
      throw error;
    });
    frontBase.catch(() => undefined);
  }, []);
}

/** The apps that host instances (their status says so), for the create form. */
function useHostApps(): { apps: string[] | undefined; error: string | undefined } {
  const [apps, setApps] = useState<string[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    call<AppList>('GET', '/apps')
      .then((list) =>
        Promise.all(list.apps.map((app) => call<AppStatus>('GET', `/apps/${id(app.id)}`))),
      )
      .then(
        (statuses) => {
          setApps(statuses.filter((s) => s.instances).map((s) => s.id));
        },
        (caught: unknown) => {
          setError(messageOf(caught));
        },
      );
  }, []);
  return { apps, error };
}

function CreateForm(props: {
  apps: string[];
  initialApp: string | undefined;
  onCreated: (instance: InstanceView, password: string | undefined) => void;
}) {
  const [app, setApp] = useState(props.initialApp ?? props.apps[0] ?? '');
  const [instanceId, setInstanceId] = useState('');
  const [domain, setDomain] = useState('');
  const [path, setPath] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const errors = formErrors(action.error, ['app', 'id', 'domain', 'path', 'password']);
  return (
    <form
      class="card"
      aria-labelledby="create-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: InstanceCreateBody = { app, id: instanceId.trim() };
        if (domain.trim()) body.domain = domain.trim();
        if (path.trim()) body.path = path.trim();
        if (password) body.password = password;
        void action
          .run(async () => {
            const created = await call<InstanceView>('POST', '/instances', body);
            // A generated password is read back once, to be shown once.
            const revealed = password
              ? undefined
              : (await call<InstanceView>('GET', `/instances/${id(created.id)}?reveal=true`))
                  .password;
            return { created, revealed };
          })
          .then((result) => {
            if (!result) return;
            setInstanceId('');
            setPath('');
            setPassword('');
            props.onCreated(result.created, result.revealed);
          });
      }}
    >
      <h2 id="create-title">Create an instance</h2>
      <Field id="create-app" label="App" error={errors.field.app}>
        {(aria) => (
          <select
            {...aria}
            value={app}
            required
            onChange={(event) => {
              setApp(event.currentTarget.value);
            }}
          >
            {props.apps.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        id="create-id"
        label="Instance id"
        hint="1 to 64 of A-Z a-z 0-9 _ -"
        error={errors.field.id}
      >
        {(aria) => (
          <input
            {...aria}
            required
            value={instanceId}
            onInput={(event) => {
              setInstanceId(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="create-domain"
        label="Domain (optional)"
        hint="Default: this machine's name"
        error={errors.field.domain}
      >
        {(aria) => (
          <input
            {...aria}
            value={domain}
            onInput={(event) => {
              setDomain(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="create-path"
        label="Web path (optional)"
        hint="Default: /<domain>/<id>"
        error={errors.field.path}
      >
        {(aria) => (
          <input
            {...aria}
            value={path}
            placeholder="/example.com/acme"
            onInput={(event) => {
              setPath(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="create-password"
        label="Password (optional)"
        hint="Empty: a strong one is generated and shown once"
        error={errors.field.password}
      >
        {(aria) => (
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
      </Field>
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy || !app}>
          {action.busy ? 'Creating…' : 'Create'}
        </button>
      </div>
    </form>
  );
}

/** A generated password, shown this once with a button to copy it. */
function OncePassword(props: { instance: string; password: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string>();
  return (
    <Notice kind="ok" onDismiss={props.onDone}>
      <p>
        Instance <strong>{props.instance}</strong> created. Its password is shown only now:
      </p>
      <p>
        <code class="secret" data-testid="once-password">
          {props.password}
        </code>{' '}
        <button
          type="button"
          onClick={() => {
            navigator.clipboard.writeText(props.password).then(
              () => {
                setCopied('Copied.');
              },
              (error: unknown) => {
                setCopied(`Copy failed: ${messageOf(error)}; select the text instead.`);
              },
            );
          }}
        >
          Copy
        </button>{' '}
        <span aria-live="polite">{copied}</span>
      </p>
    </Notice>
  );
}

/** A table of instances; with `showApp`, a column of their apps. */
function InstanceTable(props: { instances: InstanceView[]; showApp?: boolean }) {
  const columns = ['Instance', ...(props.showApp ? ['App'] : []), 'State', 'Path', 'Enabled'];
  return (
    <ListTable columns={[...columns, 'Database', 'Files']} actions>
      {props.instances.map((instance) => (
        <tr key={instance.id} data-instance={instance.id}>
          <th scope="row" data-label="Instance">
            <Link to={`/instances/${id(instance.id)}`}>{instance.id}</Link>
          </th>
          {props.showApp && (
            <td data-label="App">
              <Link to={`/apps/${id(instance.app)}`}>{instance.app}</Link>
            </td>
          )}
          <td data-label="State">
            <InstanceBadge instance={instance} />
          </td>
          <td data-label="Path">
            <code>{instance.path}</code>
          </td>
          <td data-label="Enabled">{instance.enabled ? 'yes' : 'no'}</td>
          <SizeCells usage={instance.usage} />
          <td>
            <div class="buttons">
              <button
                type="button"
                onClick={() => {
                  openInstance(instance);
                }}
              >
                Open
              </button>
              <Link class="button" to={`/instances/${id(instance.id)}`}>
                Edit
              </Link>
            </div>
          </td>
        </tr>
      ))}
    </ListTable>
  );
}

/** Every instance, by app or largest first, with its readiness and size; the create form. */
export function InstancesPage() {
  useFrontOrigin();
  const filter = new URLSearchParams(window.location.search).get('app') ?? undefined;
  const [order, setOrder] = useState<InstanceOrder>('app');
  const query = new URLSearchParams();
  if (filter) query.set('app', filter);
  if (order === 'size') query.set('sort', 'size');
  const polled = usePoll(
    () => call<InstanceList>('GET', `/instances${query.size > 0 ? `?${query.toString()}` : ''}`),
    3000,
    query.toString(),
  );
  const hosts = useHostApps();
  const [created, setCreated] = useState<{ id: string; password?: string }>();
  const instances = polled.data?.instances ?? [];
  const byApp = new Map<string, InstanceView[]>();
  for (const instance of instances) {
    byApp.set(instance.app, [...(byApp.get(instance.app) ?? []), instance]);
  }

  return (
    <section aria-labelledby="instances-title">
      <div class="heading">
        <h1 id="instances-title">Instances{filter ? ` of ${filter}` : ''}</h1>
        <Freshness at={polled.at} error={polled.error} />
      </div>
      {filter && (
        <p>
          <Link to="/instances">All instances</Link>
        </p>
      )}
      {created?.password !== undefined && (
        <OncePassword
          instance={created.id}
          password={created.password}
          onDone={() => {
            setCreated(undefined);
          }}
        />
      )}
      {created && created.password === undefined && (
        <Notice
          kind="ok"
          onDismiss={() => {
            setCreated(undefined);
          }}
        >
          Instance {created.id} created.
        </Notice>
      )}
      {polled.data && byApp.size === 0 && <p class="quiet">No instance yet.</p>}
      {instances.length > 0 && (
        <>
          <OrderChoice order={order} onChange={setOrder} />
          <MeasuredNote instances={instances} />
        </>
      )}
      {order === 'size' && instances.length > 0 && <InstanceTable instances={instances} showApp />}
      {order === 'app' &&
        [...byApp].map(([app, list]) => (
          <div key={app} class="group">
            <h2>
              <Link to={`/apps/${id(app)}`}>{app}</Link>
            </h2>
            <InstanceTable instances={list} />
          </div>
        ))}
      <ErrorText message={hosts.error && `Cannot list the apps: ${hosts.error}`} />
      {hosts.apps && hosts.apps.length === 0 && (
        <p class="quiet">
          No installed app hosts instances. Install one (its app.json says{' '}
          <code>"instances": true</code>) on the <Link to="/apps">Apps</Link> page.
        </p>
      )}
      {hosts.apps && hosts.apps.length > 0 && (
        <CreateForm
          apps={hosts.apps}
          initialApp={filter && hosts.apps.includes(filter) ? filter : undefined}
          onCreated={(instance, password) => {
            setCreated({ id: instance.id, ...(password !== undefined ? { password } : {}) });
            void polled.reload();
          }}
        />
      )}
    </section>
  );
}
