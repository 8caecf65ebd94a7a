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
import { ErrorText, InstanceBadge, Link, ListTable, Notice, PageHeading } from '../components.js';
import { CopyButton } from '../copy.js';
import { FormCard, SelectField, SubmitRow, TextField, useForm } from '../forms.js';
import { usePoll } from '../hooks.js';
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

/** What the create form sends: only the fields given. */
function createBody(fields: {
  app: string;
  instanceId: string;
  domain: string;
  path: string;
  password: string;
}): InstanceCreateBody {
  const body: InstanceCreateBody = { app: fields.app, id: fields.instanceId.trim() };
  if (fields.domain.trim()) body.domain = fields.domain.trim();
  if (fields.path.trim()) body.path = fields.path.trim();
  if (fields.password) body.password = fields.password;
  return body;
}

/** Creates the instance; a generated password is read back once, to be shown once. */
async function create(body: InstanceCreateBody) {
  const created = await call<InstanceView>('POST', '/instances', body);
  const revealed = body.password
    ? undefined
    : (await call<InstanceView>('GET', `/instances/${id(created.id)}?reveal=true`)).password;
  return { created, revealed };
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
  const { action, errors } = useForm(['app', 'id', 'domain', 'path', 'password']);
  return (
    <FormCard
      labelledBy="create-title"
      onSubmit={() => {
        const body = createBody({ app, instanceId, domain, path, password });
        void action
          .run(() => create(body))
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
      <SelectField
        id="create-app"
        label="App"
        error={errors.field.app}
        value={app}
        required
        options={props.apps.map((name) => [name, name])}
        onValue={setApp}
      />
      <TextField
        id="create-id"
        label="Instance id"
        hint="1 to 64 of A-Z a-z 0-9 _ -"
        error={errors.field.id}
        required
        value={instanceId}
        onValue={setInstanceId}
      />
      <TextField
        id="create-domain"
        label="Domain (optional)"
        hint="Default: this machine's name"
        error={errors.field.domain}
        value={domain}
        onValue={setDomain}
      />
      <TextField
        id="create-path"
        label="Web path (optional)"
        hint="Default: /<domain>/<id>"
        error={errors.field.path}
        value={path}
        placeholder="/example.com/acme"
        onValue={setPath}
      />
      <TextField
        id="create-password"
        label="Password (optional)"
        hint="Empty: a strong one is generated and shown once"
        error={errors.field.password}
        type="password"
        autocomplete="new-password"
        value={password}
        onValue={setPassword}
      />
      <SubmitRow
        error={errors.form}
        busy={action.busy}
        disabled={!app}
        label="Create"
        busyLabel="Creating…"
      />
    </FormCard>
  );
}

/** A generated password, shown this once with a button to copy it. */
function OncePassword(props: { instance: string; password: string; onDone: () => void }) {
  return (
    <Notice kind="ok" onDismiss={props.onDone}>
      <p>
        Instance <strong>{props.instance}</strong> created. Its password is shown only now:
      </p>
      <p>
        <code class="secret" data-testid="once-password">
          {props.password}
        </code>{' '}
        <CopyButton text={props.password} label="Copy the password" />
      </p>
    </Notice>
  );
}

/** A table of instances, each with its state, size, Open and Edit; `showApp`: their apps too. */
function InstanceTable(props: { list: InstanceView[]; showApp?: boolean }) {
  // On a cluster each instance names the node that owns it.
  const onNodes = props.list.some((instance) => instance.node !== undefined);
  const columns = [
    'Instance',
    ...(props.showApp ? ['App'] : []),
    'State',
    'Path',
    ...(onNodes ? ['Node'] : []),
    'Enabled',
  ];
  return (
    <ListTable columns={[...columns, 'Database', 'Files']} actions>
      {props.list.map((instance) => (
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
          {onNodes && (
            <td data-label="Node">
              <code>{instance.node}</code>
            </td>
          )}
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

/** The instances of one app. */
function InstanceGroup(props: { app: string; list: InstanceView[] }) {
  return (
    <div class="group">
      <h2>
        <Link to={`/apps/${id(props.app)}`}>{props.app}</Link>
      </h2>
      <InstanceTable list={props.list} />
    </div>
  );
}

/** The instances by app, or all in one table largest first, with when they were measured. */
function InstanceLists(props: {
  instances: InstanceView[];
  order: InstanceOrder;
  onOrder: (order: InstanceOrder) => void;
}) {
  const { instances } = props;
  if (instances.length === 0) return null;
  const byApp = new Map<string, InstanceView[]>();
  for (const instance of instances) {
    byApp.set(instance.app, [...(byApp.get(instance.app) ?? []), instance]);
  }
  return (
    <>
      <OrderChoice order={props.order} onChange={props.onOrder} />
      <MeasuredNote instances={instances} />
      {props.order === 'size' ? (
        <InstanceTable list={instances} showApp />
      ) : (
        [...byApp].map(([app, list]) => <InstanceGroup key={app} app={app} list={list} />)
      )}
    </>
  );
}

/** That an instance was created, with its generated password when there is one. */
function CreatedNotice(props: { created: { id: string; password?: string }; onDone: () => void }) {
  const { created } = props;
  if (created.password !== undefined)
    return <OncePassword instance={created.id} password={created.password} onDone={props.onDone} />;
  return (
    <Notice kind="ok" onDismiss={props.onDone}>
      Instance {created.id} created.
    </Notice>
  );
}

/** The create form once the apps that host instances are known, or why there is none. */
function CreateSection(props: {
  hosts: { apps: string[] | undefined; error: string | undefined };
  filter: string | undefined;
  onCreated: (instance: InstanceView, password: string | undefined) => void;
}) {
  const { apps, error } = props.hosts;
  return (
    <>
      <ErrorText message={error && `Cannot list the apps: ${error}`} />
      {apps && apps.length === 0 && (
        <p class="quiet">
          No installed app hosts instances. Install one (its app.json says{' '}
          <code>"instances": true</code>) on the <Link to="/apps">Apps</Link> page.
        </p>
      )}
      {apps && apps.length > 0 && (
        <CreateForm
          apps={apps}
          initialApp={props.filter && apps.includes(props.filter) ? props.filter : undefined}
          onCreated={props.onCreated}
        />
      )}
    </>
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

  return (
    <section aria-labelledby="instances-title">
      <PageHeading id="instances-title" at={polled.at} error={polled.error}>
        Instances{filter ? ` of ${filter}` : ''}
      </PageHeading>
      {filter && (
        <p>
          <Link to="/instances">All instances</Link>
        </p>
      )}
      {created && (
        <CreatedNotice
          created={created}
          onDone={() => {
            setCreated(undefined);
          }}
        />
      )}
      {polled.data && instances.length === 0 && <p class="quiet">No instance yet.</p>}
      <InstanceLists instances={instances} order={order} onOrder={setOrder} />
      <CreateSection
        hosts={hosts}
        filter={filter}
        onCreated={(instance, password) => {
          setCreated({ id: instance.id, ...(password !== undefined ? { password } : {}) });
          void polled.reload();
        }}
      />
    </section>
  );
}
