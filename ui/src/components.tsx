import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { messageOf, type ActiveAlarm, type AppSummary, type InstanceView } from './api.js';
import { duration, relative, time } from './format.js';
import { useElapsed } from './hooks.js';
import { href, onLinkClick } from './router.js';

/** A link to a route of the UI. */
export function Link(props: { to: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={href(props.to)}
      class={props.class}
      onClick={(event) => {
        onLinkClick(event, props.to);
      }}
    >
      {props.children}
    </a>
  );
}

/**
 * A list table (its rows become cards on narrow screens): the column headings, then `children`,
 * the rows. With `actions`, a last column of buttons named "Actions" for screen readers only.
 */
export function ListTable(props: {
  columns: readonly string[];
  actions?: boolean;
  labelledBy?: string;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table class="list" aria-labelledby={props.labelledBy} data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            {props.actions && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** Facts of one thing as a description list: a name and its value each. */
export function Facts(props: { facts: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {props.facts.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A control on one line beside a heading (a filter, a period), `children` being it. */
export function InlineField(props: { id: string; label: string; children: ComponentChildren }) {
  return (
    <div class="field inline-field">
      <label for={props.id}>{props.label}</label>
      {props.children}
    </div>
  );
}

/** An error about the whole form or page. */
export function ErrorText(props: { message: string | undefined }) {
  if (!props.message) return null;
  return (
    <p class="error" role="alert">
      {props.message}
    </p>
  );
}

/** The state of an app as a badge: running, backoff (with the next restart), fatal, ... */
export function AppBadge(props: {
  app: Pick<AppSummary, 'state' | 'runnable'>;
  nextRestartAt?: string | null;
}) {
  const { state, runnable } = props.app;
  if (!runnable) return <span class="badge muted">not runnable</span>;
  const kind =
    state === 'running'
      ? 'ok'
      : state === 'fatal'
        ? 'bad'
        : state === 'backoff'
          ? 'warn'
          : state === 'stopped'
            ? 'muted'
            : 'busy';
  const next =
    state === 'backoff' && props.nextRestartAt
      ? ` · restarts ${relative(props.nextRestartAt)} (${time(props.nextRestartAt)})`
      : '';
  return <span class={`badge ${kind}`}>{`${state}${next}`}</span>;
}

/** The readiness of an instance as a badge. */
export function InstanceBadge(props: { instance: Pick<InstanceView, 'state' | 'error'> }) {
  const { state, error } = props.instance;
  const kind =
    state === 'ready' ? 'ok' : state === 'failed' ? 'bad' : state === 'starting' ? 'busy' : 'muted';
  return (
    <span class={`badge ${kind}`} title={error ?? undefined}>
      {state}
    </span>
  );
}

/** The severity of an alarm as a badge: info, warning, error, critical. */
export function SeverityBadge(props: { severity: ActiveAlarm['severity'] }) {
  const kind = props.severity === 'info' ? 'busy' : props.severity === 'warning' ? 'warn' : 'bad';
  return <span class={`badge ${kind}`}>{props.severity}</span>;
}

/**
 * A modal question (the browser's `<dialog>`: focus stays inside, Escape cancels). The confirm
 * button runs `onConfirm`; its error is shown inside and the dialog stays open. An `onConfirm`
 * that only starts what the page then follows elsewhere returns nothing: the dialog closes.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  children: ComponentChildren;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // Its own id: a page may hold several dialogs, and each must be named by its own title.
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      setError(undefined);
      dialog.showModal();
    } else if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={() => {
        props.onClose();
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          Promise.resolve(props.onConfirm()).then(
            () => {
              setBusy(false);
              ref.current?.close();
            },
            (caught: unknown) => {
              setBusy(false);
              setError(messageOf(caught));
            },
          );
        }}
      >
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        <ErrorText message={error} />
        <div class="actions">
          <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={busy}>
            {busy ? 'Working…' : props.confirmLabel}
          </button>
          <button
            type="button"
            onClick={() => {
              ref.current?.close();
            }}
          >
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

/**
 * A danger-zone card: what the action destroys, its button, and the dialog that asks first.
 * `onOpen` runs when the button opens the dialog (to reset choices made in it).
 */
export function DangerZone(props: {
  title: string;
  text: string;
  button: string;
  question: string;
  confirmLabel: string;
  children: ComponentChildren;
  onConfirm: () => Promise<void>;
  onOpen?: () => void;
}) {
  const [confirming, setConfirming] = useState(false);
  return (
    <div class="card danger-zone">
      <h2>{props.title}</h2>
      <p>{props.text}</p>
      <button
        type="button"
        class="danger"
        onClick={() => {
          props.onOpen?.();
          setConfirming(true);
        }}
      >
        {props.button}
      </button>
      <ConfirmDialog
        open={confirming}
        title={props.question}
        confirmLabel={props.confirmLabel}
        danger
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={props.onConfirm}
      >
        {props.children}
      </ConfirmDialog>
    </div>
  );
}

/** A page's title (`id` names the page's section by it) and when its data was last loaded. */
export function PageHeading(props: {
  id: string;
  at: Date | undefined;
  error: string | undefined;
  children: ComponentChildren;
}) {
  return (
    <div class="heading">
      <h1 id={props.id}>{props.children}</h1>
      <Freshness at={props.at} error={props.error} />
    </div>
  );
}

/** A line that says when data was loaded, or why the last reload failed. */
export function Freshness(props: { at: Date | undefined; error: string | undefined }) {
  if (props.error)
    return (
      <p class="error" role="alert">
        Not updated: {props.error}
      </p>
    );
  return <p class="freshness">{props.at ? `Updated ${time(props.at)}` : 'Loading…'}</p>;
}

/**
 * The page of one thing before its first load answered: its name, why it has not loaded, and
 * the way back to the list (`back`, named `backLabel`).
 */
export function NotLoaded(props: {
  title: string;
  at: Date | undefined;
  error: string | undefined;
  back: string;
  backLabel: string;
}) {
  return (
    <section>
      <h1>{props.title}</h1>
      <Freshness at={props.at} error={props.error} />
      <p>
        <Link to={props.back}>{props.backLabel}</Link>
      </p>
    </section>
  );
}

/** A notice that stays until dismissed: results of actions, announced to screen readers. */
export function Notice(props: {
  kind: 'ok' | 'bad';
  children: ComponentChildren;
  onDismiss: () => void;
}) {
  return (
    <div class={`notice ${props.kind}`} role={props.kind === 'bad' ? 'alert' : 'status'}>
      <div>{props.children}</div>
      <button type="button" class="plain" aria-label="Dismiss" onClick={props.onDismiss}>
        ×
      </button>
    </div>
  );
}

/** What a page tells of the last action until dismissed: a {@link Notice} of its own. */
export interface PageNotice<T> {
  /** What it tells now. */
  value: T | undefined;
  show: (value: T) => void;
  clear: () => void;
  /** The notice to put on the page (nothing while there is none). */
  view: ComponentChildren;
}

/**
 * A page's notice of what its last action did: `render` makes the notice's kind and content
 * of a value shown with `show`; Dismiss clears it.
 */
export function useNotice<T>(
  render: (value: T) => { kind: 'ok' | 'bad'; children: ComponentChildren },
): PageNotice<T> {
  const [value, setValue] = useState<T>();
  const clear = () => {
    setValue(undefined);
  };
  const shown = value === undefined ? undefined : render(value);
  return {
    value,
    show: setValue,
    clear,
    view: shown && (
      <Notice kind={shown.kind} onDismiss={clear}>
        {shown.children}
      </Notice>
    ),
  };
}

/**
 * An operation the manager answers only when done (no share of it is known): what runs, for
 * how long so far, and a bar without a value. Shown while it runs.
 */
export function Working(props: { id: string; text: string }) {
  const seconds = useElapsed();
  return (
    <div class="progress" data-testid={props.id}>
      <label for={props.id}>
        <span role="status">{props.text}</span>{' '}
        <span class="elapsed" aria-hidden="true">
          {duration(seconds)}
        </span>
      </label>
      <progress id={props.id} />
    </div>
  );
}
