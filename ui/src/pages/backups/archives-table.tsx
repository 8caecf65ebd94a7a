import { apiBase, archivePath, type ListedBackup } from '../../api.js';
import { ListTable } from '../../components.js';
import { bytes, dateTime } from '../../format.js';

/**
 * The archives in the backup folder, each with its Download link and Restore… button. On a
 * cluster, the archives of every node's folder, each naming its node: one of another node's
 * folder is restored there, and downloaded from that node's UI.
 */
export function ArchivesTable(props: {
  list: ListedBackup[];
  /** This node's id, on a cluster. */
  self?: string | undefined;
  onRestore: (entry: ListedBackup) => void;
}) {
  const nodes = props.list.some((entry) => entry.node !== undefined);
  return (
    <ListTable
      columns={['File', 'Instance', 'App', 'Size', 'Made', 'Encrypted', ...(nodes ? ['Node'] : [])]}
      actions
      labelledBy="archives-title"
    >
      {props.list.map((entry) => (
        <tr
          key={`${entry.node ?? ''}\n${entry.file}`}
          data-file={entry.file}
          data-instance={entry.instance ?? undefined}
        >
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
          {nodes && <td data-label="Node">{entry.node}</td>}
          <td>
            <div class="buttons">
              {entry.node === undefined || entry.node === props.self ? (
                <a
                  class="button"
                  href={`${apiBase}${archivePath(entry.file)}`}
                  download
                  aria-label={`Download ${entry.file}`}
                >
                  Download
                </a>
              ) : (
                <span class="quiet" title="Download it from that node's admin UI">
                  on another node
                </span>
              )}
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
