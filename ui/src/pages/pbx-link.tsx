/**
 * The instance page's card for linking a PBX App object (docs/appwebsocket.md): the URLs and
 * the domain to copy, the instance password on request, the database user, and a new database
 * password.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { call, id, messageOf, type InstanceUpdateBody, type InstanceView } from '../api.js';
import { ConfirmDialog, ErrorText, Facts, Link } from '../components.js';
import { CopyButton } from '../copy.js';
import { useAction } from '../hooks.js';

/** A value in monospace with its copy button. */
function Copyable(props: { testId: string; text: string; label: string }) {
  return (
    <>
      <code class="copyable" data-testid={props.testId}>
        {props.text}
      </code>{' '}
      <CopyButton text={props.text} label={props.label} />
    </>
  );
}

/** The instance password: hidden until asked for (it is read with `?reveal=true` then). */
function Password(props: { instance: string }) {
  const [password, setPassword] = useState<string>();
  const action = useAction();
  if (password !== undefined)
    return (
      <>
        <Copyable testId="link-password" text={password} label="Copy the password" />{' '}
        <button
          type="button"
          onClick={() => {
            setPassword(undefined);
          }}
        >
          Hide
        </button>
      </>
    );
  return (
    <>
      <button
        type="button"
        disabled={action.busy}
        onClick={() => {
          void action
            .run(() => call<InstanceView>('GET', `/instances/${id(props.instance)}?reveal=true`))
            .then((view) => {
              if (view?.password !== undefined) setPassword(view.password);
            });
        }}
      >
        Show password
      </button>
      <ErrorText message={action.error === undefined ? undefined : messageOf(action.error)} />
    </>
  );
}

/**
 * Link to a PBX: what an App object is set up with. `onRotated` takes the instance after its
 * database role got a new password.
 */
export function PbxLinkCard(props: {
  instance: InstanceView;
  onRotated: (view: InstanceView) => void;
}) {
  const { instance } = props;
  const { link } = instance;
  const [confirming, setConfirming] = useState(false);
  const facts: [string, ComponentChildren][] = link
    ? [
        [
          'App object URL',
          <Copyable testId="link-url" text={link.url} label="Copy the app object URL" />,
        ],
        [
          'WebSocket URL',
          <Copyable
            testId="link-websocket"
            text={link.websocketUrl}
            label="Copy the WebSocket URL"
          />,
        ],
        [
          'DNS name',
          <>
            {link.dnsName}
            {link.dnsNameFrom === 'domain' && (
              <span class="hint" data-testid="link-dns-hint">
                {' '}
                (the instance's domain: no DNS name is set in <Link to="/settings">Settings</Link>)
              </span>
            )}
          </>,
        ],
      ]
    : [['App object URL', 'unknown right now: the platform settings cannot be read']];
  facts.push(
    ['Domain', <Copyable testId="link-domain" text={instance.domain} label="Copy the domain" />],
    ['Password', <Password instance={instance.id} />],
    ['Database user', <code data-testid="link-db-user">{instance.databaseUser}</code>],
  );
  return (
    <section class="card pbx-link" aria-labelledby="link-title">
      <h2 id="link-title">Link to a PBX</h2>
      <p class="hint">
        Set up the PBX App object with the app object URL and the instance password; its PBX must be
        of the domain.
      </p>
      <Facts facts={facts} />
      <button
        type="button"
        onClick={() => {
          setConfirming(true);
        }}
      >
        New database password…
      </button>
      <ConfirmDialog
        open={confirming}
        title={`A new database password for ${instance.databaseUser}?`}
        confirmLabel="Replace the password"
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={async () => {
          const body: InstanceUpdateBody = { rotateDbPassword: true };
          props.onRotated(await call<InstanceView>('PATCH', `/instances/${id(instance.id)}`, body));
        }}
      >
        <p>
          The role <code>{instance.databaseUser}</code> gets a new generated password. The running
          instance gets it at once and stays ready; the old password stops working. Nobody is shown
          the new one.
        </p>
      </ConfirmDialog>
    </section>
  );
}
