import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type BackupRestoreBody, type InstanceView, type ListedBackup } from '../../api.js';
import { ConfirmDialog, Working } from '../../components.js';
import { SelectField, SubmitRow, TextField, useForm } from '../../forms.js';
import { dateTime } from '../../format.js';

type How = 'into' | 'as';

/** The choice between a new instance and an existing one (none to choose: only new). */
function HowChoice(props: {
  how: How;
  busy: boolean;
  canReplace: boolean;
  onChange: (how: How) => void;
}) {
  const radio = (value: How, text: string, disabled?: boolean) => (
    <label>
      <input
        type="radio"
        name="restore-how"
        value={value}
        checked={props.how === value}
        disabled={disabled}
        onChange={() => {
          props.onChange(value);
        }}
      />{' '}
      {text}
    </label>
  );
  return (
    <fieldset class="choice" disabled={props.busy}>
      <legend>Restore</legend>
      {radio('as', 'as a new instance')}
      {radio('into', 'into an existing instance (replaces its data)', !props.canReplace)}
    </fieldset>
  );
}

/** The new instance's id, or the instance to replace (of the archive's app when known). */
function TargetField(props: {
  how: How;
  entry: ListedBackup;
  candidates: InstanceView[];
  target: string;
  asId: string;
  busy: boolean;
  errors: Record<string, string>;
  onAsId: (id: string) => void;
  onInto: (id: string) => void;
}) {
  const { entry } = props;
  if (props.how === 'as')
    return (
      <TextField
        id="restore-as"
        label="New instance id"
        hint={`A new instance${entry.app ? ` of ${entry.app}` : ''}: path /<domain>/<id>, a new password`}
        error={props.errors.as}
        required
        value={props.asId}
        disabled={props.busy}
        onValue={props.onAsId}
      />
    );
  return (
    <SelectField
      id="restore-into"
      label="Instance"
      hint={
        entry.app === null
          ? 'The archive is encrypted: its app is checked when it is opened'
          : `Instances of ${entry.app}`
      }
      error={props.errors.into}
      value={props.target}
      required
      disabled={props.busy}
      options={props.candidates.map((view) => [
        view.id,
        entry.app === null ? `${view.id} (${view.app})` : view.id,
      ])}
      onValue={props.onInto}
    />
  );
}

/** The passphrase of an encrypted archive. */
function PassphraseField(props: {
  error: string | undefined;
  value: string;
  busy: boolean;
  onValue: (value: string) => void;
}) {
  return (
    <TextField
      id="restore-passphrase"
      label="Passphrase"
      hint="The one the archive was made with"
      error={props.error}
      type="password"
      autocomplete="off"
      required
      value={props.value}
      disabled={props.busy}
      onValue={props.onValue}
    />
  );
}

/** Asks before an archive replaces the data of a live instance. */
function ReplaceDialog(props: {
  open: boolean;
  target: string;
  entry: ListedBackup;
  onClose: () => void;
  onConfirm: () => void;
}) {
  const { entry } = props;
  return (
    <ConfirmDialog
      open={props.open}
      title={`Replace the data of ${props.target}?`}
      confirmLabel="Replace"
      danger
      onClose={props.onClose}
      onConfirm={props.onConfirm}
    >
      <p>
        The database and files of <strong>{props.target}</strong> are replaced by those of{' '}
        <code>{entry.file}</code>
        {entry.createdAt ? ` (made ${dateTime(entry.createdAt)})` : ''}. The instance restarts; what
        changed since the backup is lost.
      </p>
    </ConfirmDialog>
  );
}

/**
 * Where the archive goes: as a new instance (its id), or into an instance of its app
 * (`target`: the one chosen, else the first there is).
 */
function useTarget(entry: ListedBackup, instances: InstanceView[]) {
  const candidates = instances.filter((view) => entry.app === null || view.app === entry.app);
  const [how, setHow] = useState<How>('as');
  const [into, setInto] = useState(entry.instance ?? '');
  const [asId, setAsId] = useState('');
  const target = candidates.some((view) => view.id === into) ? into : (candidates[0]?.id ?? '');
  return { candidates, how, setHow, target, setInto, asId, setAsId };
}

/** The form's heading, focused when the form opens for an archive (it opens below the list). */
function RestoreTitle(props: { file: string }) {
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    title.current?.focus();
  }, [props.file]);
  return (
    <h2 id="restore-title" ref={title} tabIndex={-1}>
      Restore <code>{props.file}</code>
    </h2>
  );
}

/**
 * Restores one archive into an instance of its app (replacing its data, after a confirmation)
 * or as a new instance. An encrypted archive's app is known only once opened: every instance
 * is offered and the manager refuses one of another app.
 */
export function RestoreForm(props: {
  entry: ListedBackup;
  instances: InstanceView[];
  onRestored: (view: InstanceView, how: How) => void;
  onCancel: () => void;
}) {
  const { entry } = props;
  const { candidates, how, setHow, target, setInto, asId, setAsId } = useTarget(
    entry,
    props.instances,
  );
  const [passphrase, setPassphrase] = useState('');
  const [confirming, setConfirming] = useState(false);
  const { action, errors } = useForm(['into', 'as', 'passphrase']);
  const restore = () => {
    const body: BackupRestoreBody = { archive: entry.file };
    if (entry.target) body.target = entry.target;
    // On a cluster: restored on the node whose folder holds it.
    else if (entry.node) body.node = entry.node;
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
      <RestoreTitle file={entry.file} />
      <HowChoice
        how={how}
        busy={action.busy}
        canReplace={candidates.length > 0}
        onChange={setHow}
      />
      <TargetField
        how={how}
        entry={entry}
        candidates={candidates}
        target={target}
        asId={asId}
        busy={action.busy}
        errors={errors.field}
        onAsId={setAsId}
        onInto={setInto}
      />
      {entry.encrypted && (
        <PassphraseField
          error={errors.field.passphrase}
          value={passphrase}
          busy={action.busy}
          onValue={setPassphrase}
        />
      )}
      {action.busy && (
        <Working
          id="restore-progress"
          text={`Restoring ${how === 'into' ? `into ${target}` : `as ${asId.trim()}`}…`}
        />
      )}
      <SubmitRow error={errors.form} busy={action.busy} label="Restore" busyLabel="Restoring…">
        <button type="button" disabled={action.busy} onClick={props.onCancel}>
          Cancel
        </button>
      </SubmitRow>
      <ReplaceDialog
        open={confirming}
        target={target}
        entry={entry}
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={restore}
      />
    </form>
  );
}
