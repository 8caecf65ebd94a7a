/**
 * The Overview's card of the platform's nodes (docs/cluster.md): each node's state, address,
 * instances against its capacity, and its last heartbeat. Shown once the platform is a
 * cluster; a platform of one node has nothing to show here.
 */
import { call, type NodesReport } from '../api.js';
import { ErrorText, ListTable } from '../components.js';
import { relative } from '../format.js';
import { usePoll } from '../hooks.js';

const badgeOf = { up: 'ok', down: 'bad', stopped: 'muted' } as const;

/** The nodes table, or nothing for a platform of one node. */
export function NodesCard() {
  const nodes = usePoll(() => call<NodesReport>('GET', '/nodes'), 5000);
  const report = nodes.data;
  if (!report || (report.cluster === null && report.nodes.length < 2)) {
    return <ErrorText message={nodes.error && `Cannot read the nodes: ${nodes.error}`} />;
  }
  return (
    <section class="card" aria-labelledby="nodes-title" data-testid="nodes-card">
      <h2 id="nodes-title">
        Nodes{report.cluster === null ? '' : ` of cluster ${report.cluster}`}
      </h2>
      <ErrorText message={nodes.error && `Cannot read the nodes: ${nodes.error}`} />
      <ListTable
        labelledBy="nodes-title"
        testId="nodes"
        columns={['Node', 'State', 'Address', 'Instances', 'Version', 'Heartbeat']}
      >
        {report.nodes.map((node) => (
          <tr key={node.id} data-state={node.state}>
            <th scope="row" data-label="Node">
              <code>{node.id}</code>
              {node.self && <span class="quiet"> (this node)</span>}
            </th>
            <td data-label="State">
              <span class={`badge ${badgeOf[node.state]}`}>{node.state}</span>
              {node.draining && <span class="quiet"> (drained)</span>}
            </td>
            <td data-label="Address">{node.address}</td>
            <td data-label="Instances">{`${node.instances} of ${node.capacity}`}</td>
            <td data-label="Version">{node.version}</td>
            <td data-label="Heartbeat">
              {node.stoppedAt ? `stopped ${relative(node.stoppedAt)}` : relative(node.heartbeatAt)}
            </td>
          </tr>
        ))}
      </ListTable>
    </section>
  );
}
