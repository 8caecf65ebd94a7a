import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type BackupEntry, type BackupRestoreBody, type InstanceView } from '../../api.js';
import { ConfirmDialog, ErrorText, Field, Working, formErrors } from '../../components.js';
import { dateTime } from '../../format.js';
import { useAction } from '../../hooks.js';

/**
 * Restores one archive into an instance of its app (replacing its data, after a confirmation)
 * or as a new instance. An encrypted archive's app is known only once opened: every instance
 * is offered and the manager refuses one of another app.
 */
export function RestoreForm(props: {
  entry: BackupEntry;
  instances: InstanceView[];
  onRestored: (view: InstanceView, how: 'into' | 'as') => void;
  onCancel: () => void;
}) {
  const { entry } = props;
  const candidates = props.instances.filter((view) => entry.app === null || view.app === entry.app);
  const [how, setHow] = useState<'into' | 'as'>('as');
  const [into, setInto] = useState(entry.instance ?? '');
  const [asId, setAsId] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const errors = formErrors(action.error, ['into', 'as', 'passphrase']);
  const target = candidates.some((view) => view.id === into) ? into : (candidates[0]?.id ?? '');
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    title.current?.focus();
  }, [entry.file]);

  const restore = () => {
    const body: BackupRestoreBody = { archive: entry.file };
    if (how === 'into') body.into = target;
    else body.as = asId.trim();
    if (passphrase) body.passphrase = passphrase;
    void action
      .run(() => call<InstanceView>('POST', '/backups/restore', body))
      .then((view) => {
        if (!view) return;
        setPassphrase('');
        props.onRestored(view, how);
      });
  };
  return (
    <form
      class="card"
      aria-labelledby="restore-title"
      onSubmit={(event) => {
        event.preventDefault();
        // Into a live instance replaces its data: asked first.
        if (how === 'into') setConfirming(true);
        else restore();
      }}
    >
      <h2 id="restore-title" ref={title} tabIndex={-1}>
        Restore <code>{entry.file}</code>
      </h2>
      <fieldset class="choice" disabled={action.busy}>
        <legend>Restore</legend>
        <label>
          <input
            type="radio"
            name="restore-how"
            value="as"
            checked={how === 'as'}
            onChange={() => {
              setHow('as');
            }}
          />{' '}
          as a new instance
        </label>
        <label>
          <input
            type="radio"
            name="restore-how"
            value="into"
            checked={how === 'into'}
            disabled={candidates.length === 0}
            onChange={() => {
              setHow('into');
            }}
          />{' '}
          into an existing instance (replaces its data)
        </label>
      </fieldset>
      {how === 'as' ? (
        <Field
          id="restore-as"
          label="New instance id"
          hint={`A new instance${entry.app ? ` of ${entry.app}` : ''}: path /<domain>/<id>, a new password`}
          error={errors.field.as}
        >
          {(aria) => (
            <input
              {...aria}
              required
              value={asId}
              disabled={action.busy}
              onInput={(event) => {
                setAsId(event.currentTarget.value);
              }}
            />
          )}
        </Field>
      ) : (
        <Field
          id="restore-into"
          label="Instance"
          hint={
            entry.app === null
              ? 'The archive is encrypted: its app is checked when it is opened'
              : `Instances of ${entry.app}`
          }
          error={errors.field.into}
        >
          {(aria) => (
            <select
              {...aria}
              value={target}
              required
              disabled={action.busy}
              onChange={(event) => {
                setInto(event.currentTarget.value);
              }}
            >
              {candidates.map((view) => (
                <option key={view.id} value={view.id}>
                  {entry.app === null ? `${view.id} (${view.app})` : view.id}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      {entry.encrypted && (
        <Field
          id="restore-passphrase"
          label="Passphrase"
          hint="The one the archive was made with"
          error={errors.field.passphrase}
        >
          {(aria) => (
            <input
              {...aria}
              type="password"
              autocomplete="off"
              required
              value={passphrase}
              disabled={action.busy}
              onInput={(event) => {
                setPassphrase(event.currentTarget.value);
              }}
            />
          )}
        </Field>
      )}
      {action.busy && (
        <Working
          id="restore-progress"
          text={`Restoring ${how === 'into' ? `into ${target}` : `as ${asId.trim()}`}…`}
        />
      )}
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Restoring…' : 'Restore'}
        </button>
        <button type="button" disabled={action.busy} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      <ConfirmDialog
        open={confirming}
        title={`Replace the data of ${target}?`}
        confirmLabel="Replace"
        danger
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={() => {
          restore();
          return Promise.resolve();
        }}
      >
        <p>
          The database and files of <strong>{target}</strong> are replaced by those of{' '}
          <code>{entry.file}</code>
          {entry.createdAt ? ` (made ${dateTime(entry.createdAt)})` : ''}. The instance restarts;
          what changed since the backup is lost.
        </p>
      </ConfirmDialog>
    </form>
  );
}
