import { useState } from 'preact/hooks';
import { call, id, type StoreSource, type StoreSourceBody } from '../../api.js';
import { Checkbox, FormCard, SubmitRow, TextAreaField, TextField, useForm } from '../../forms.js';

/** What allowing unsigned packages means, shown while it is ticked. */
function UnsignedWarning() {
  return (
    <p class="warning" role="note">
      <strong>Unsafe:</strong> packages and indexes of this store are then installed even when they
      are not signed or their signature does not verify. Whoever can change the store, or the
      connection to it, can run their code on this machine.
    </p>
  );
}

/** The trusted keys as typed, one a line. */
function keyList(text: string): string[] {
  return text
    .split('\n')
    .map((key) => key.trim())
    .filter(Boolean);
}

/** Add (or replace) an app store: name, URL, trusted keys, unsigned allowed. */
export function AddSourceForm(props: { onAdded: (source: StoreSource) => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [keys, setKeys] = useState('');
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const { action, errors } = useForm(['name', 'url', 'keys']);
  return (
    <FormCard
      labelledBy="store-add-title"
      onSubmit={() => {
        const body: StoreSourceBody = { url: url.trim(), keys: keyList(keys), allowUnsigned };
        void action
          .run(() => call<StoreSource>('PUT', `/store/sources/${id(name.trim() || '-')}`, body))
          .then((source) => {
            if (!source) return;
            setName('');
            setUrl('');
            setKeys('');
            setAllowUnsigned(false);
            props.onAdded(source);
          });
      }}
    >
      <h2 id="store-add-title">Add an app store</h2>
      <TextField
        id="store-name"
        label="Name"
        hint="1 to 40 of a-z 0-9 - _; a store of the same name is replaced"
        error={errors.field.name}
        value={name}
        required
        disabled={action.busy}
        onValue={setName}
      />
      <TextField
        id="store-url"
        label="URL"
        hint="Of its apps.json (a URL ending in / gets apps.json added)"
        error={errors.field.url}
        type="url"
        value={url}
        required
        disabled={action.busy}
        placeholder="https://apps.example.com/apps.json"
        onValue={setUrl}
      />
      <TextAreaField
        id="store-keys"
        label="Public keys"
        hint="One a line: the Ed25519 keys its index and packages are signed with (appvisor store keygen prints one)"
        error={errors.field.keys}
        rows={2}
        value={keys}
        disabled={action.busy}
        spellcheck={false}
        onValue={setKeys}
      />
      <div class="checks">
        <Checkbox checked={allowUnsigned} disabled={action.busy} onChange={setAllowUnsigned}>
          Allow unsigned packages
        </Checkbox>
      </div>
      {allowUnsigned && <UnsignedWarning />}
      <SubmitRow error={errors.form} busy={action.busy} label="Add store" busyLabel="Adding…" />
    </FormCard>
  );
}
