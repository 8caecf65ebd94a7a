import { useState } from 'preact/hooks';
import { call, id, type StoreSource } from '../../api.js';
import { ConfirmDialog, ListTable } from '../../components.js';

/** The configured stores, each with a Remove that asks first. */
export function SourcesTable(props: { sources: StoreSource[]; onRemoved: (name: string) => void }) {
  const [removing, setRemoving] = useState<string>();
  if (props.sources.length === 0) {
    return <p class="quiet">No app store is configured yet: add one below.</p>;
  }
  return (
    <>
      <ListTable columns={['Name', 'URL', 'Keys', 'Unsigned']} actions>
        {props.sources.map((source) => (
          <tr key={source.name} data-store={source.name}>
            <th scope="row" data-label="Name">
              {source.name}
            </th>
            <td data-label="URL" class="wrap">
              <code>{source.url}</code>
            </td>
            <td data-label="Keys">{source.keys.length}</td>
            <td data-label="Unsigned">
              {source.allowUnsigned ? <span class="badge warn">allowed</span> : 'refused'}
            </td>
            <td>
              <button
                type="button"
                aria-label={`Remove ${source.name}`}
                onClick={() => {
                  setRemoving(source.name);
                }}
              >
                Remove
              </button>
            </td>
          </tr>
        ))}
      </ListTable>
      <ConfirmDialog
        open={removing !== undefined}
        title={`Remove the app store ${removing ?? ''}?`}
        confirmLabel="Remove"
        danger
        onClose={() => {
          setRemoving(undefined);
        }}
        onConfirm={async () => {
          if (removing === undefined) return;
          await call('DELETE', `/store/sources/${id(removing)}`);
          props.onRemoved(removing);
        }}
      >
        <p>Its apps are no longer listed. Apps installed from it stay installed.</p>
      </ConfirmDialog>
    </>
  );
}
