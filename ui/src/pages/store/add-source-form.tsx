import { useState } from 'preact/hooks';
import { call, id, type StoreSource, type StoreSourceBody } from '../../api.js';
import { ErrorText, Field, formErrors } from '../../components.js';
import { useAction } from '../../hooks.js';

/** Add (or replace) an app store: name, URL, trusted keys, unsigned allowed. */
export function AddSourceForm(props: { onAdded: (source: StoreSource) => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [keys, setKeys] = useState('');
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const action = useAction();
  const errors = formErrors(action.error, ['name', 'url', 'keys']);
  return (
    <form
      class="card"
      aria-labelledby="store-add-title"
      onSubmit={(event) => {
        event.preventDefault();
        const body: StoreSourceBody = {
          url: url.trim(),
          keys: keys
            .split('\n')
            .map((key) => key.trim())
            .filter(Boolean),
          allowUnsigned,
        };
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
      <Field
        id="store-name"
        label="Name"
        hint="1 to 40 of a-z 0-9 - _; a store of the same name is replaced"
        error={errors.field.name}
      >
        {(aria) => (
          <input
            {...aria}
            value={name}
            required
            disabled={action.busy}
            onInput={(event) => {
              setName(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="store-url"
        label="URL"
        hint="Of its apps.json (a URL ending in / gets apps.json added)"
        error={errors.field.url}
      >
        {(aria) => (
          <input
            {...aria}
            type="url"
            value={url}
            required
            disabled={action.busy}
            placeholder="https://apps.example.com/apps.json"
            onInput={(event) => {
              setUrl(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <Field
        id="store-keys"
        label="Public keys"
        hint="One a line: the Ed25519 keys its index and packages are signed with (appvisor store keygen prints one)"
        error={errors.field.keys}
      >
        {(aria) => (
          <textarea
            {...aria}
            rows={2}
            value={keys}
            disabled={action.busy}
            spellcheck={false}
            onInput={(event) => {
              setKeys(event.currentTarget.value);
            }}
          />
        )}
      </Field>
      <div class="checks">
        <label>
          <input
            type="checkbox"
            checked={allowUnsigned}
            disabled={action.busy}
            onChange={(event) => {
              setAllowUnsigned(event.currentTarget.checked);
            }}
          />{' '}
          Allow unsigned packages
        </label>
      </div>
      {allowUnsigned && (
        <p class="warning" role="note">
          <strong>Unsafe:</strong> packages and indexes of this store are then installed even when
          they are not signed or their signature does not verify. Whoever can change the store, or
          the connection to it, can run their code on this machine.
        </p>
      )}
      <ErrorText message={errors.form} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Adding…' : 'Add store'}
        </button>
      </div>
    </form>
  );
}
