import { useState } from 'preact/hooks';
import {
  call,
  type BackupCreateBody,
  type BackupEntry,
  type BackupTarget,
  type InstanceView,
} from '../../api.js';
import { Working } from '../../components.js';
import { FormCard, SelectField, SubmitRow, TextField, useForm } from '../../forms.js';
import { TargetSelect } from './targets.js';

/** What a backup name template may hold, shown under each template field. */
export const templateHint =
  '#A app, #I instance, #D domain, #L label, #m MAC, #d UTC time, #bn slot, ## a #';

/** Back up now: an instance, optionally a template and a passphrase. */
export function CreateForm(props: {
  instances: InstanceView[];
  initial: string | undefined;
  defaultTemplate: string | undefined;
  targets: BackupTarget[];
  onMade: (entry: BackupEntry) => void;
}) {
  const [instance, setInstance] = useState(props.initial ?? '');
  const [template, setTemplate] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [target, setTarget] = useState('');
  const { action, errors } = useForm(['instance', 'template', 'slots', 'passphrase', 'target']);
  // The first instance once the list has come, unless one was chosen.
  const chosen = instance || props.instances[0]?.id || '';
  return (
    <FormCard
      labelledBy="backup-title"
      onSubmit={() => {
        const body: BackupCreateBody = { instance: chosen };
        if (template.trim()) body.template = template.trim();
        if (passphrase) body.passphrase = passphrase;
        if (target) body.target = target;
        void action
          .run(() => call<BackupEntry>('POST', '/backups', body))
          .then((entry) => {
            if (!entry) return;
            // The passphrase is not kept once used.
            setPassphrase('');
            props.onMade(entry);
          });
      }}
    >
      <h2 id="backup-title">Back up now</h2>
      <SelectField
        id="backup-instance"
        label="Instance"
        error={errors.field.instance}
        value={chosen}
        required
        disabled={action.busy}
        options={props.instances.map((view) => [view.id, `${view.id} (${view.app})`])}
        onValue={setInstance}
      />
      <TextField
        id="backup-template"
        label="Name template (optional)"
        hint={`Default: the schedule's${props.defaultTemplate ? ` (${props.defaultTemplate})` : ''}. ${templateHint}`}
        error={errors.field.template}
        value={template}
        disabled={action.busy}
        placeholder={props.defaultTemplate}
        onValue={setTemplate}
      />
      <TextField
        id="backup-passphrase"
        label="Passphrase (optional)"
        hint="Encrypts the archive. It is not stored: without it the archive cannot be restored."
        error={errors.field.passphrase}
        type="password"
        autocomplete="new-password"
        value={passphrase}
        disabled={action.busy}
        onValue={setPassphrase}
      />
      {props.targets.length > 0 && (
        <TargetSelect
          id="backup-target"
          label="To"
          targets={props.targets}
          value={target}
          disabled={action.busy}
          onValue={setTarget}
        />
      )}
      {action.busy && <Working id="backup-progress" text={`Backing up ${chosen}…`} />}
      <SubmitRow
        error={errors.form ?? errors.field.slots}
        busy={action.busy}
        disabled={!chosen}
        label="Back up now"
        busyLabel="Backing up…"
      />
    </FormCard>
  );
}
