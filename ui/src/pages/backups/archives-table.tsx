import { apiBase, archivePath, type BackupEntry } from '../../api.js';
import { ListTable } from '../../components.js';
import { bytes, dateTime } from '../../format.js';

/** The archives in the backup folder, each with its Download link and Restore… button. */
export function ArchivesTable(props: {
  list: BackupEntry[];
  onRestore: (entry: BackupEntry) => void;
}) {
  return (
    <ListTable
      columns={['File', 'Instance', 'App', 'Size', 'Made', 'Encrypted']}
      actions
      labelledBy="archives-title"
    >
      {props.list.map((entry) => (
        <tr key={entry.file} data-file={entry.file} data-instance={entry.instance ?? undefined}>
          <th scope="row" data-label="File">
            <code class="wrap">{entry.file}</code>
          </th>
          <td data-label="Instance">{entry.instance ?? <span class="quiet">?</span>}</td>
          <td data-label="App">
            {entry.app === null ? (
              <span class="quiet">?</span>
            ) : (
              `${entry.app}${entry.appVersion ? ` ${entry.appVersion}` : ''}`
            )}
          </td>
          <td data-label="Size">{bytes(entry.size)}</td>
          <td data-label="Made">{dateTime(entry.createdAt ?? entry.modifiedAt)}</td>
          <td data-label="Encrypted">
            {entry.encrypted ? (
              <span
                class="badge warn"
                title="Instance and app are known once opened with the passphrase"
              >
                encrypted
              </span>
            ) : (
              'no'
            )}
          </td>
          <td>
            <div class="buttons">
              <a
                class="button"
                href={`${apiBase}${archivePath(entry.file)}`}
                download
                aria-label={`Download ${entry.file}`}
              >
                Download
              </a>
              <button
                type="button"
                aria-label={`Restore ${entry.file}`}
                onClick={() => {
                  props.onRestore(entry);
                }}
              >
                Restore…
              </button>
            </div>
          </td>
        </tr>
      ))}
    </ListTable>
  );
}
