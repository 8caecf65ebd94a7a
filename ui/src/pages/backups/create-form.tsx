import { useState } from 'preact/hooks';
import { call, type BackupCreateBody, type BackupEntry, type InstanceView } from '../../api.js';
import { ErrorText, Field, Working, formErrors } from '../../components.js';
import { useAction } from '../../hooks.js';

/** What a backup name template may hold, shown under each template field. */
export const templateHint =
  '#A app, #I instance, #D domain, #L label, #m MAC, #d UTC time, #bn slot, ## a #';

/** Back up now: an instance, optionally a template and a passphrase. */
export function CreateForm(props: {
  instances: InstanceView[];
  initial: string | undefined;
  defaultTemplate: string | undefined;
  onMade: (entry: BackupEntry) => void;
}) {
  const [instance, setInstance] = useState(props.initial ?? '');
  const [template, setTemplate] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const action = useAction();
  const errors = formErrors(action.error, ['instance', 'template', 'slots', 'passphrase']);
  // The first instance once the list has come, unless one was chosen.
  const chosen = instance || props.instances[0]?.id || '';
  return (
    <form
      class="card"
      aria-labelledby="backup-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: BackupCreateBody = { instance: chosen };
        if (template.trim()) body.template = template.trim();
        if (passphrase) body.passphrase = passphrase;
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
      <Field id="backup-instance" label="Instance" error={errors.field.instance}>
        {(aria) => (
          <select
            {...aria}
            value={chosen}
            required
            disabled={action.busy}
            onChange={(event) => {
              setInstance(event.currentTarget.value);
            }}
          >
            {props.instances.map((view) => (
              <option key={view.id} value={view.id}>
                {view.id} ({view.app})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        id="backup-template"
        label="Name template (optional)"
        hint={`Default: the schedule's${props.defaultTemplate ? ` (${props.defaultTemplate})` : ''}. ${templateHint}`}
        error={errors.field.template}
      >
        {(aria) => (
          <input
            {...aria}
            value={template}
            disabled={action.busy}
            placeholder={props.defaultTemplate}
            onInput={(event) => {
              setTemplate(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="backup-passphrase"
        label="Passphrase (optional)"
        hint="Encrypts the archive. It is not stored: without it the archive cannot be restored."
        error={errors.field.passphrase}
      >
        {(aria) => (
          <input
            {...aria}
            type="password"
            autocomplete="new-password"
            value={passphrase}
            disabled={action.busy}
            onInput={(event) => {
              setPassphrase(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      {action.busy && <Working id="backup-progress" text={`Backing up ${chosen}…`} />}
      <ErrorText message={errors.form ?? errors.field.slots} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy || !chosen}>
          {action.busy ? 'Backing up…' : 'Back up now'}
        </button>
      </div>
    </form>
  );
}
