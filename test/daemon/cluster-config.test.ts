/**
 * The configuration file of a cluster (docs/configuration-file.md, docs/cluster.md): exported
 * through any node, it lists every node's instances with their nodes; imported through any
 * node, a missing instance is made on its node (or where placement chooses, when its node
 * cannot take it) and an existing one is changed by its owner. A node that owns instances and
 * does not answer makes both refuse, rather than write or read a platform without them.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImportResult, InstanceView, NodesReport } from '../../src/api/index.js';
import type { ConfigDocument } from '../../src/core/transfer/index.js';
import { hostedBy, TestCluster } from '../helpers/cluster.js';
import {
  cli,
  cliOk,
  eventually,
  instanceView,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';

describe('the configuration file of a cluster', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  let ids = new Map<Daemon, string>();
  const file = (name: string) => join(cluster.root, name);

  const exportFrom = async (daemon: Daemon, name: string, ...extra: string[]) => {
    await cliOk(daemon, 'config', 'export', file(name), ...extra);
    return JSON.parse(await readFile(file(name), 'utf8')) as ConfigDocument;
  };
  const importInto = async (daemon: Daemon, document: ConfigDocument, ...extra: string[]) => {
    await writeFile(file('import.json'), JSON.stringify(document, null, 2));
    return JSON.parse(
      await cliOk(daemon, 'config', 'import', file('import.json'), ...extra, '--json'),
    ) as ImportResult;
  };
  const create = async (daemon: Daemon, id: string, node: Daemon) => {
    await cliOk(
      daemon,
      ...['instance', 'create', 'echo', id, '--domain', 'example.com', '--node', ids.get(node)!],
    );
    await waitForInstance(node, id);
  };

  before(async () => {
    cluster = await TestCluster.create();
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
    ids = await cluster.withEcho([a, b, c]);
    await create(a, 'on-a', a);
    await create(a, 'on-b', b);
    await create(b, 'on-c', c);
    await create(a, 'also-c', c);
  });

  after(async () => {
    await cluster.destroy();
  });

  test("an export through any node lists every node's instances with their node", async () => {
    const document = await exportFrom(a, 'a.json');
    assert.deepEqual(
      document.instances.map((i) => [i.id, i.node]),
      [
        ['also-c', ids.get(c)],
        ['on-a', ids.get(a)],
        ['on-b', ids.get(b)],
        ['on-c', ids.get(c)],
      ],
    );
    const fromB = await exportFrom(b, 'b.json');
    assert.deepEqual(fromB.instances, document.instances);
    // The passwords of other nodes' instances come from their owners: the file with its
    // secrets, imported at once, changes nothing. (Into the node it came from: the
    // certificate in it is that node's own.)
    await writeFile(file('pass.txt'), 'a long passphrase\n');
    const sealed = await exportFrom(
      c,
      'sealed.json',
      '--include-secrets',
      '--passphrase-file',
      file('pass.txt'),
    );
    const again = await importInto(c, sealed, '--passphrase-file', file('pass.txt'));
    assert.deepEqual(
      again.changes.filter((change) => change.action !== 'keep'),
      [],
    );
  });

  test('an import through one node makes and changes instances on their nodes', async () => {
    const document = await exportFrom(a, 'before.json');
    await cliOk(c, 'instance', 'delete', 'on-b', '--yes');
    const onC = document.instances.find((i) => i.id === 'on-c')!;
    onC.enabled = false;
    onC.traceFlags = ['database'];
    document.instances.find((i) => i.id === 'on-a')!.node = ids.get(b)!;
    document.instances.push(
      { ...onC, id: 'new-c', path: '/example.com/new-c', enabled: true, traceFlags: [] },
      {
        ...onC,
        id: 'stray',
        path: '/example.com/stray',
        enabled: true,
        traceFlags: [],
        node: 'no-such-node',
      },
    );

    const plan = await importInto(a, document, '--dry-run');
    const texts = plan.changes.map((change) => change.text);
    assert.ok(
      texts.includes(
        `+ instance on-b of echo at example.com/example.com/on-b on node ${ids.get(b)} (new password)`,
      ),
      texts.join('\n'),
    );
    assert.ok(
      texts.includes(
        `+ instance new-c of echo at example.com/example.com/new-c on node ${ids.get(c)} (new password)`,
      ),
      texts.join('\n'),
    );
    assert.ok(
      texts.includes(
        '+ instance stray of echo at example.com/example.com/stray on the node placement chooses (no node no-such-node is registered) (new password)',
      ),
      texts.join('\n'),
    );
    assert.ok(texts.includes('~ instance on-c enabled: true -> false'), texts.join('\n'));
    assert.ok(texts.includes('~ instance on-c traceFlags: [] -> database'), texts.join('\n'));
    assert.ok(
      texts.some((text) =>
        text.startsWith(`= instance on-a node: kept (it is on node ${ids.get(a)}`),
      ),
      texts.join('\n'),
    );
    assert.ok(!(await hostedBy(b)).includes('on-b'), 'a dry run makes nothing');

    const done = await importInto(a, document);
    assert.equal(done.applied, true);
    assert.ok((await hostedBy(b)).includes('on-b'), 'made again on its node');
    assert.ok((await hostedBy(c)).includes('new-c'), 'made on the node the file names');
    assert.ok((await hostedBy(a)).includes('on-a'), 'an import moves nothing');
    const changed = await instanceView(c, 'on-c');
    assert.equal(changed.enabled, false, 'changed by its owner');
    assert.deepEqual(changed.traceFlags, ['database']);
    const list = JSON.parse(await cliOk(b, 'instance', 'list', '--json')) as InstanceView[];
    const stray = list.find((view) => view.id === 'stray');
    assert.ok(stray && [...ids.values()].includes(stray.node!), 'placement chose a node');
    await waitForInstance(b, 'on-b');

    const twice = await importInto(b, document);
    assert.equal(twice.applied, false, 'the same file again changes nothing');
  });

  test('a node that owns instances and does not answer makes export and import refuse', async () => {
    const document = await exportFrom(b, 'whole.json');
    const cId = ids.get(c)!;
    // The others take no instance, so that C's stay C's once it is judged down.
    await cluster.server.superQuery(
      [`UPDATE nodes SET draining = true WHERE node_id <> '${cId}'`],
      'appvisor',
    );
    c.child.kill('SIGKILL');
    await c.exited;
    await eventually(
      async () => {
        const report = JSON.parse(await cliOk(a, 'node', '--json')) as NodesReport;
        const node = report.nodes.find((n) => n.id === cId);
        return node?.state === 'down' && node.instances > 0 ? true : undefined;
      },
      20_000,
      'node c judged down, its instances stranded',
    );
    const refused = await cli(['config', 'export', file('partial.json'), '--data', a.data]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`error NODE_UNREACHABLE: .*node ${cId}`));
    await assert.rejects(readFile(file('partial.json')), 'no file is written');
    await writeFile(file('whole.json'), JSON.stringify(document));
    const importing = await cli(['config', 'import', file('whole.json'), '--data', a.data]);
    assert.match(importing.stderr, /error NODE_UNREACHABLE: /);
  });
});
