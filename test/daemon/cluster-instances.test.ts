/**
 * Instances across the nodes of a cluster (docs/cluster.md, "Instances on several nodes"):
 * placement spreads them, `--node` pins one, and every node's CLI lists, shows, changes and
 * deletes the instances of every node, the owner doing the work.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type {
  DrainAnswer,
  InstanceView,
  NodesReport,
  PlatformMonitor,
} from '../../src/api/index.js';
import { hostedBy, TestCluster } from '../helpers/cluster.js';
import { cli, cliOk, eventually, http, waitForInstance, type Daemon } from '../helpers/daemon.js';
import { find, parseExposition } from '../helpers/prometheus.js';

describe('instances across the nodes of a cluster', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  let ids = new Map<Daemon, string>();

  const list = async (daemon: Daemon) =>
    JSON.parse(await cliOk(daemon, 'instance', 'list', '--json')) as InstanceView[];
  const show = async (daemon: Daemon, id: string) =>
    JSON.parse(await cliOk(daemon, 'instance', 'show', id, '--json')) as InstanceView;
  const create = async (daemon: Daemon, id: string, ...extra: string[]) => {
    const made = JSON.parse(
      await cliOk(
        daemon,
        'instance',
        'create',
        'echo',
        id,
        '--domain',
        'example.com',
        ...extra,
        '--json',
      ),
    ) as InstanceView;
    return made;
  };

  before(async () => {
    cluster = await TestCluster.create();
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
    ids = await cluster.withEcho([a, b, c]);
  });

  after(async () => {
    await cluster.destroy();
  });

  test('placement spreads new instances over the nodes, fewest first', async () => {
    const made = [];
    for (const id of ['one', 'two', 'three']) made.push(await create(a, id));
    const owners = made.map((view) => view.node);
    assert.deepEqual([...owners].sort(), [...ids.values()].sort(), 'one instance on each node');
    assert.equal(owners[0], ids.get(a), 'on a tie, the node asked');
    for (const view of made) await waitForInstance(a, view.id);
  });

  test('--node pins an instance; every node lists every instance with its node', async () => {
    const pinned = await create(b, 'pinned', '--node', ids.get(c)!);
    assert.equal(pinned.node, ids.get(c));
    // The owner's view: ready on C, seen from B.
    await waitForInstance(b, 'pinned');
    for (const daemon of [a, b, c]) {
      const views = await list(daemon);
      assert.deepEqual(
        views.map((v) => v.id),
        ['one', 'pinned', 'three', 'two'],
      );
      assert.equal(views.find((v) => v.id === 'pinned')!.node, ids.get(c));
    }
    const table = await cliOk(a, 'instance', 'list');
    assert.match(table, /NODE/);
    // The instance answers through any front; C's service hosts it.
    const counted = await http('POST', { url: a.httpUrl }, '/example.com/pinned/count');
    assert.deepEqual(counted.body, { instance: 'pinned', count: 1 });
  });

  test("metrics name their node; any node gives the platform's, with totals", async () => {
    const api = (daemon: Daemon, path: string) =>
      http('GET', { socket: daemon.socket }, `/manager/api/v1${path}`);
    const own = parseExposition((await api(b, '/metrics')).text);
    assert.ok(own.length > 0 && own.every((sample) => sample.labels.node === ids.get(b)));
    // The values are each node's latest sample (taken every monitor.intervalSeconds).
    const platform = await eventually(
      async () => {
        const parsed = parseExposition((await api(b, '/metrics?scope=cluster')).text);
        return find(parsed, 'appvisor_cluster_instances')[0]?.value === 4 &&
          find(parsed, 'appvisor_app_state', { app: 'echo', state: 'running' }).length === 3
          ? parsed
          : undefined;
      },
      30_000,
      "every node's latest sample",
    );
    for (const node of ids.values()) {
      const running = find(platform, 'appvisor_app_state', { node, app: 'echo', state: 'running' });
      assert.equal(running[0]?.value, 1);
      assert.equal(find(platform, 'appvisor_cluster_node_answered', { node })[0]?.value, 1);
    }
    assert.equal(find(platform, 'appvisor_cluster_nodes', { state: 'up' })[0]?.value, 3);
    assert.equal(find(platform, 'appvisor_cluster_instances')[0]?.value, 4);
    assert.equal(
      find(platform, 'appvisor_instance_ready', { instance: 'pinned' })[0]?.labels.node,
      ids.get(c),
    );
    const monitor = (await api(a, '/monitor?scope=cluster')).body as PlatformMonitor;
    assert.deepEqual(
      monitor.nodes.map((n) => n.node),
      [...ids.values()].sort(),
    );
    assert.ok(monitor.nodes.every((n) => n.state === 'up' && n.snapshot !== undefined));
    assert.equal(monitor.totals.instances, 4);
    assert.equal(monitor.totals.apps.echo?.running, 3);
    const printed = await cliOk(c, 'monitor', '--cluster');
    for (const node of ids.values()) assert.match(printed, new RegExp(node));
    assert.match(printed, /instances\s+4 of 4 ready/);
    assert.match(printed, /nodes\s+3 up, 0 down, 0 stopped; 3 answered/);
    // Without the scope, a node's own, as on a platform of one node.
    const single = (await api(a, '/monitor')).body as { instances: unknown[] };
    assert.equal(single.instances.length, (await hostedBy(a)).length);
    const refused = await api(a, '/monitor?scope=everything');
    assert.equal(refused.status, 400);
  });

  test("another node's instance is shown, changed and deleted from any node", async () => {
    const seen = await show(a, 'pinned');
    assert.equal(seen.node, ids.get(c));
    const disabled = JSON.parse(
      await cliOk(a, 'instance', 'set', 'pinned', '--enabled', 'off', '--json'),
    ) as InstanceView;
    assert.equal(disabled.enabled, false);
    assert.equal((await show(c, 'pinned')).state, 'disabled', 'the owner did it');
    await cliOk(b, 'instance', 'set', 'pinned', '--enabled', 'on');
    await waitForInstance(c, 'pinned');
    // A backup asked of A is made by the owner, into its own backup folder.
    const made = JSON.parse(await cliOk(a, 'backup', 'create', 'pinned', '--json')) as {
      file: string;
    };
    const onC = JSON.parse(await cliOk(c, 'backup', 'list', '--instance', 'pinned', '--json')) as {
      file: string;
    }[];
    assert.deepEqual(
      onC.map((entry) => entry.file),
      [made.file],
    );
    await cliOk(b, 'instance', 'delete', 'pinned', '--yes');
    for (const daemon of [a, b, c]) {
      assert.ok(!(await list(daemon)).some((v) => v.id === 'pinned'));
    }
    const gone = await cli(['instance', 'show', 'pinned', '--data', a.data]);
    assert.match(gone.stderr, /error INSTANCE_NOT_FOUND/);
  });

  test("ids are the platform's; a node that is not there, or lacks the app, is refused", async () => {
    const twice = await cli([
      'instance',
      'create',
      'echo',
      'one',
      '--node',
      ids.get(c)!,
      '--data',
      c.data,
    ]);
    assert.match(twice.stderr, /error INSTANCE_EXISTS/);
    const nowhere = await cli([
      'instance',
      'create',
      'echo',
      'x',
      '--node',
      'no-such',
      '--data',
      a.data,
    ]);
    assert.match(nowhere.stderr, /error NODE_NOT_FOUND/);
    const noApp = await cli(['instance', 'create', 'nothing', 'x', '--data', a.data]);
    assert.match(noApp.stderr, /error APP_NOT_FOUND: app nothing is not installed on any node/);
  });

  test('an instance moves live; a drained node gives its instances away and takes none', async () => {
    const hosted = hostedBy;
    const one = (await list(a)).find((v) => v.id === 'one')!;
    const from = [a, b, c].find((d) => ids.get(d) === one.node)!;
    const to = [a, b, c].find((d) => d !== from)!;
    const before = await http('POST', { url: a.httpUrl }, '/example.com/one/count');
    const moved = JSON.parse(
      await cliOk(c, 'instance', 'move', 'one', '--node', ids.get(to)!, '--json'),
    ) as InstanceView;
    assert.equal(moved.node, ids.get(to));
    await waitForInstance(a, 'one');
    assert.ok(!(await hosted(from)).includes('one'), 'the old owner let go at once');
    assert.ok((await hosted(to)).includes('one'));
    const after = await http('POST', { url: from.httpUrl }, '/example.com/one/count');
    assert.equal(
      (after.body as { count: number }).count,
      (before.body as { count: number }).count + 1,
      'its data came along: the database is shared',
    );

    const drained = JSON.parse(
      await cliOk(a, 'node', 'drain', ids.get(b)!, '--json'),
    ) as DrainAnswer;
    assert.deepEqual(drained.failed, []);
    assert.deepEqual(await hosted(b), []);
    for (const { id } of drained.moved) await waitForInstance(a, id);
    const report = JSON.parse(await cliOk(c, 'node', '--json')) as NodesReport;
    assert.equal(report.nodes.find((n) => n.id === ids.get(b))!.draining, true);
    const placed = await create(c, 'after-drain');
    assert.notEqual(placed.node, ids.get(b), 'placement passes a drained node over');
    const pinned = await cli([
      ...['instance', 'create', 'echo', 'x', '--node', ids.get(b)!],
      '--data',
      a.data,
    ]);
    assert.match(pinned.stderr, /error NODE_FULL: .*drained/);
    await cliOk(a, 'node', 'undrain', ids.get(b)!);
    const back = await create(a, 'after-undrain', '--node', ids.get(b)!);
    assert.equal(back.node, ids.get(b));
  });

  test('a node never deletes or changes an instance taken from it', async () => {
    const two = (await list(a)).find((v) => v.id === 'two')!;
    const owner = [a, b, c].find((d) => ids.get(d) === two.node)!;
    const [found] = await cluster.server.superQuery(
      ["SELECT db_name FROM instances WHERE id = 'two'"],
      'appvisor',
    );
    const database = (found!.rows[0] as { db_name: string }).db_name;
    // Another node owns it now (as after a takeover), before the owner has looked.
    await cluster.server.superQuery(
      ["UPDATE instances SET node_id = 'elsewhere' WHERE id = 'two'"],
      'appvisor',
    );
    const asked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const call = request(
        {
          socketPath: owner.socket,
          method: 'DELETE',
          path: '/manager/api/v1/instances/two',
          // As a call another node passed on: answered here, whatever the store says.
          headers: { 'x-appvisor-passed-on': '1' },
        },
        (answer) => {
          let text = '';
          answer.on('data', (chunk: Buffer) => (text += chunk.toString()));
          answer.on('end', () => {
            resolve({ status: answer.statusCode ?? 0, text });
          });
        },
      );
      call.on('error', reject);
      call.end();
    });
    // INSTANCE_MOVED when the owner still had it loaded; INSTANCE_NOT_FOUND once it let go.
    assert.match(asked.text, /INSTANCE_MOVED|INSTANCE_NOT_FOUND/, asked.text);
    const [databases] = await cluster.server.superQuery([
      `SELECT 1 FROM pg_database WHERE datname = '${database}'`,
    ]);
    assert.equal(databases!.rowCount, 1, 'its database is still there');
    await cluster.server.superQuery(
      [`UPDATE instances SET node_id = '${ids.get(owner)!}' WHERE id = 'two'`],
      'appvisor',
    );
    await waitForInstance(a, 'two');
  });

  test('the instances of a node that is gone are named, not silently left out', async () => {
    const onC = (await list(a)).find((v) => v.node === ids.get(c))!;
    c.child.kill('SIGKILL');
    await c.exited;
    const listed = await cli(['instance', 'list', '--data', a.data]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, new RegExp(`warning: node ${ids.get(c)!} did not answer`));
    assert.doesNotMatch(listed.stdout, new RegExp(`^${onC.id} `, 'm'));
    const shown = await cli(['instance', 'show', onC.id, '--data', a.data]);
    assert.match(shown.stderr, /error NODE_UNREACHABLE/);
  });
});
