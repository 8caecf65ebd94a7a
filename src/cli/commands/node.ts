import type { DrainAnswer, NodesReport } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { printAnswer, tableOr } from '../output.js';

/** How long ago an ISO time was, as `4s ago`, `3m ago`, `2h ago`. */
function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

/** `appvisor node list`: the nodes of the platform, this one marked `*`. */
export async function nodeList(context: CommandContext): Promise<void> {
  const report = await context.client.call<NodesReport>('GET', '/nodes');
  const now = Date.now();
  printAnswer(context, report, () => {
    const head = report.cluster === null ? 'a platform of one node' : `cluster ${report.cluster}`;
    return `${head}\n${tableOr(
      'no nodes',
      ['NODE', 'STATE', 'ADDRESS', 'INSTANCES', 'CAPACITY', 'VERSION', 'HEARTBEAT'],
      report.nodes.map((n) => [
        `${n.id}${n.self ? ' *' : ''}`,
        n.draining ? `${n.state}, drained` : n.state,
        n.address,
        String(n.instances),
        String(n.capacity),
        n.version,
        n.stoppedAt ? `stopped ${ago(n.stoppedAt, now)}` : ago(n.heartbeatAt, now),
      ]),
    )}`;
  });
}

/** `appvisor node remove <id>`: forgets a node that is down or stopped and owns nothing. */
export async function nodeRemove(context: CommandContext, id: string): Promise<void> {
  const answer = await context.client.call<{ ok: boolean }>(
    'DELETE',
    `/nodes/${encodeURIComponent(id)}`,
  );
  printAnswer(context, answer, () => `removed node ${id}`);
}

/** `appvisor node drain <id>`: no new instances there, and its instances moved to others. */
export async function nodeDrain(context: CommandContext, id: string): Promise<void> {
  const answer = await context.client.call<DrainAnswer>(
    'POST',
    `/nodes/${encodeURIComponent(id)}/drain`,
  );
  printAnswer(context, answer, () => {
    const lines = [`node ${id} drained: ${answer.moved.length} instance(s) moved`];
    for (const m of answer.moved) lines.push(`  ${m.id} → ${m.node}`);
    for (const f of answer.failed) lines.push(`  ${f.id} stays: ${f.code} ${f.message}`);
    return lines.join('\n');
  });
}

/** `appvisor node undrain <id>`: placement may give the node instances again. */
export async function nodeUndrain(context: CommandContext, id: string): Promise<void> {
  const answer = await context.client.call<{ ok: boolean }>(
    'POST',
    `/nodes/${encodeURIComponent(id)}/undrain`,
  );
  printAnswer(context, answer, () => `node ${id} takes instances again`);
}

export function registerNode(cli: Cli): void {
  const node = cli.program
    .command('node')
    .description('the nodes of the platform (managers sharing one PostgreSQL)');
  node
    .command('list', { isDefault: true })
    .description('every node: up, down (its lease ran out) or stopped')
    .action(withContext(cli, nodeList));
  node
    .command('drain <id>')
    .description('move every instance of a node to the others; it takes no new ones')
    .action(withContext(cli, nodeDrain));
  node
    .command('undrain <id>')
    .description('let a drained node take instances again')
    .action(withContext(cli, nodeUndrain));
  node
    .command('remove <id>')
    .description('forget a node that is down or stopped and owns no instance')
    .action(withContext(cli, nodeRemove));
}
