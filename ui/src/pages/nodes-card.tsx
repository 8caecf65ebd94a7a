/**
 * The Overview's card of the platform's nodes (docs/cluster.md): each node's state, address,
 * instances against its capacity, its load (CPU, memory) and its last heartbeat, with the
 * platform's totals below. Shown once the platform is a cluster; a platform of one node has
 * nothing to show here.
 */
import { call, type NodesReport, type PlatformMonitor } from '../api.js';
import { ErrorText, ListTable } from '../components.js';
import { relative } from '../format.js';
import { usePoll } from '../hooks.js';

const badgeOf = { up: 'ok', down: 'bad', stopped: 'muted' } as const;

/** The nodes table, or nothing for a platform of one node. */
export function NodesCard() {
  const nodes = usePoll(() => call<NodesReport>('GET', '/nodes'), 5000);
  const report = nodes.data;
  const cluster = report !== undefined && (report.cluster !== null || report.nodes.length > 1);
  // Asked once the platform is known to be a cluster; a platform of one node shows no card.
  const monitor = usePoll(
    () =>
      cluster ? call<PlatformMonitor>('GET', '/monitor?scope=cluster') : Promise.resolve(undefined),
    10_000,
    cluster ? 'cluster' : 'single',
  );
  if (!report || !cluster) {
    return <ErrorText message={nodes.error && `Cannot read the nodes: ${nodes.error}`} />;
  }
  const samples = new Map((monitor.data?.nodes ?? []).map((sample) => [sample.node, sample]));
  const totals = monitor.data?.totals;
  return (
    <section class="card" aria-labelledby="nodes-title" data-testid="nodes-card">
      <h2 id="nodes-title">
        Nodes{report.cluster === null ? '' : ` of cluster ${report.cluster}`}
      </h2>
      <ErrorText message={nodes.error && `Cannot read the nodes: ${nodes.error}`} />
      <ListTable
        labelledBy="nodes-title"
        testId="nodes"
        columns={['Node', 'State', 'Address', 'Instances', 'CPU', 'Memory', 'Version', 'Heartbeat']}
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
            <Load snapshot={samples.get(node.id)?.snapshot} />
            <td data-label="Version">{node.version}</td>
            <td data-label="Heartbeat">
              {node.stoppedAt ? `stopped ${relative(node.stoppedAt)}` : relative(node.heartbeatAt)}
            </td>
          </tr>
        ))}
      </ListTable>
      {totals && (
        <p data-testid="platform-totals">
          Platform: {totals.nodes.up} of{' '}
          {totals.nodes.up + totals.nodes.down + totals.nodes.stopped} nodes up,{' '}
          {totals.instancesReady} of {totals.instances} instances ready, {totals.cpuCores} cores,
          memory {gib(totals.memoryUsedBytes)} of {gib(totals.memoryTotalBytes)} GiB in use
          {totals.nodes.answered < totals.nodes.up && (
            <span class="quiet">
              {' '}
              ({totals.nodes.up - totals.nodes.answered} up did not answer)
            </span>
          )}
        </p>
      )}
    </section>
  );
}

/** Bytes in GiB, one decimal. */
const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(1);

/** A node's CPU and memory from its latest sample; dashes when it gave none. */
function Load(props: { snapshot: PlatformMonitor['nodes'][number]['snapshot'] }) {
  const machine = props.snapshot?.machine;
  return (
    <>
      <td data-label="CPU">{machine ? `${machine.cpu.percent.toFixed(0)} %` : '–'}</td>
      <td data-label="Memory">
        {machine
          ? `${gib(machine.memory.usedBytes)} of ${gib(machine.memory.totalBytes)} GiB`
          : '–'}
      </td>
    </>
  );
}
