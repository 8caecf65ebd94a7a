/**
 * Three managers on one PostgreSQL, each with its own data folder and ports, as docs/cluster.md
 * tells an operator to join them: the refusals of a manager that shares the store by accident
 * (another key, no or another cluster name, a copied data folder), then the nodes' leases: up,
 * down after `kill -9` (recorded once), stopped after a clean stop, removed.
 */
import assert from 'node:assert/strict';
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ActiveAlarm, NodesReport, StatusReport } from '../../src/api/index.js';
import {
  cli,
  cliOk,
  echoWithInstance,
  eventually,
  failingDaemon,
  killAll,
  login,
  type Daemon,
} from '../helpers/daemon.js';
import { TestCluster } from '../helpers/cluster.js';

describe('nodes of one platform on a shared PostgreSQL', () => {
  let cluster: TestCluster;
  const nodeArgs = (name: string | null) => cluster.args(name);
  const folder = (name: string) => cluster.folder(name);
  const startNode = (name: string) => cluster.start(name);
  const prepare = (name: string, from: Daemon) => cluster.prepare(name, from);
  const nodes = async (daemon: Daemon) =>
    JSON.parse(await cliOk(daemon, 'node', 'list', '--json')) as NodesReport;
  const nodeIdOf = async (daemon: Daemon) => (await nodes(daemon)).self;
  const alarmsOf = async (daemon: Daemon) =>
    (JSON.parse(await cliOk(daemon, 'alarms', '--json')) as { alarms: ActiveAlarm[] }).alarms;

  before(async () => {
    cluster = await TestCluster.create();
  });

  after(async () => {
    await cluster.destroy(['copy', 'lone', 'other']);
  });

  let a: Daemon;
  let b: Daemon;
  let c: Daemon;

  test('the first node makes the platform; it is up, at its address', async () => {
    a = await startNode('a');
    assert.ok(a.password, 'the first node sets the admin password');
    const report = await nodes(a);
    assert.equal(report.cluster, 'lab');
    assert.equal(report.nodes.length, 1);
    const [self] = report.nodes;
    assert.equal(self!.state, 'up');
    assert.equal(self!.self, true);
    assert.equal(self!.address, `127.0.0.1:${new URL(a.httpUrl).port}`);
    assert.equal(self!.generation, 1);
    const status = JSON.parse(await cliOk(a, 'status', '--json')) as StatusReport;
    assert.equal(status.manager.cluster, 'lab');
    assert.match(await cliOk(a, 'status'), /cluster +lab, node /);
  });

  test('a manager with another secret.key is refused before it writes anything', async () => {
    const failed = await failingDaemon(folder('other'), nodeArgs('lab'));
    assert.equal(failed.code, 2, failed.stderr);
    assert.match(failed.stderr, /error CLUSTER_KEY_MISMATCH: .*copy secret\.key/);
    assert.equal((await nodes(a)).nodes.length, 1, 'it was not registered');
  });

  test('with the key, a manager must name the cluster, and name it right', async () => {
    await prepare('lone', a);
    const single = await failingDaemon(folder('lone'), nodeArgs(null));
    assert.equal(single.code, 2, single.stderr);
    assert.match(single.stderr, /error CLUSTER_MISMATCH: .*cluster "lab".*cluster\.name=lab/);
    const wrong = await failingDaemon(folder('lone'), nodeArgs('other'));
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /error CLUSTER_MISMATCH: .*"lab", not "other"/);
    assert.equal((await nodes(a)).nodes.length, 1, 'neither was registered');
  });

  test("a copy of a running node's data folder is refused: its node id is up", async () => {
    await mkdir(folder('copy'), { mode: 0o700 });
    for (const file of ['secret.key', 'node-id']) {
      await cp(join(a.data, file), join(folder('copy'), file));
    }
    const failed = await failingDaemon(folder('copy'), nodeArgs('lab'));
    assert.equal(failed.code, 2, failed.stderr);
    assert.match(failed.stderr, /error NODE_ID_IN_USE: .*is up on .*copy/);
  });

  test('two more nodes join; every node sees all three, and one admin password', async () => {
    await prepare('b', a);
    await prepare('c', a);
    b = await startNode('b');
    c = await startNode('c');
    assert.equal(b.password, undefined, 'the platform has its password already');
    // The admin password of the platform opens every node's API.
    await login(c, a.password!);
    for (const daemon of [a, b, c]) {
      const report = await nodes(daemon);
      assert.deepEqual(
        report.nodes.map((n) => n.state),
        ['up', 'up', 'up'],
      );
      assert.equal(report.nodes.filter((n) => n.self).length, 1);
      assert.equal(report.nodes.find((n) => n.self)!.id, report.self);
    }
    const addresses = (await nodes(a)).nodes.map((n) => n.address).sort();
    const expected = [a, b, c].map((d) => `127.0.0.1:${new URL(d.httpUrl).port}`).sort();
    assert.deepEqual(addresses, expected);
  });

  test('a node killed is down once its lease runs out, recorded once, alarmed until removed', async () => {
    const cId = await nodeIdOf(c);
    const bId = await nodeIdOf(b);
    c.child.kill('SIGKILL');
    await c.exited;
    const seen = await eventually(
      async () => {
        const report = await nodes(a);
        return report.nodes.find((n) => n.id === cId)?.state === 'down' ? report : undefined;
      },
      15_000,
      'node c down',
    );
    assert.equal(seen.nodes.filter((n) => n.state === 'up').length, 2);
    // One of the two others saw it first; it alone recorded the loss and holds the alarm,
    // which every node lists, naming the node that holds it.
    const held = await eventually(async () => {
      const lists = await Promise.all(
        [a, b].map(async (d) => (await alarmsOf(d)).filter((x) => x.code === 'node-down')),
      );
      return lists.every((list) => list.length === 1) ? lists.map((list) => list[0]!) : undefined;
    });
    assert.equal(held[0]!.subject, cId);
    assert.deepEqual(held[0], held[1]);
    const [downEvents] = await cluster.server.superQuery(
      [`SELECT node_id FROM events WHERE kind = 'node.down' AND subject = '${cId}'`],
      'appvisor',
    );
    assert.equal(downEvents!.rowCount, 1, 'one node.down event');
    const observer = held[0]!.node === (await nodeIdOf(a)) ? a : b;
    assert.equal(held[0]!.node, await nodeIdOf(observer));

    const up = await cli(['node', 'remove', bId, '--data', a.data]);
    assert.equal(up.code, 1);
    assert.match(up.stderr, /error NODE_UP: /);
    const unknown = await cli(['node', 'remove', 'no-such-node', '--data', a.data]);
    assert.match(unknown.stderr, /error NODE_NOT_FOUND: /);

    await cliOk(a, 'node', 'remove', cId);
    assert.deepEqual(
      (await nodes(b)).nodes.map((n) => n.id).sort(),
      [await nodeIdOf(a), bId].sort(),
    );
    for (const daemon of [a, b]) {
      await eventually(
        async () =>
          (await alarmsOf(daemon)).some((x) => x.code === 'node-down') ? undefined : true,
        10_000,
        'the node-down alarm cleared',
      );
    }
  });

  test('a node stopped cleanly is stopped at once, not down; one that owns instances stays', async () => {
    await echoWithInstance(b, 'held');
    const bId = await nodeIdOf(b);
    const listed = (await nodes(a)).nodes.find((n) => n.id === bId)!;
    assert.equal(listed.instances, 1);
    await b.stop();
    const report = await nodes(a);
    assert.equal(report.nodes.find((n) => n.id === bId)!.state, 'stopped');
    const owner = await cli(['node', 'remove', bId, '--data', a.data]);
    assert.match(owner.stderr, /error NODE_NOT_EMPTY: .*1 instance/);
    // No loss is recorded for a clean stop.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.ok(!(await alarmsOf(a)).some((x) => x.code === 'node-down'));
  });

  test('a node killed and started again comes back at once, its generation counted', async () => {
    const before = (await nodes(a)).nodes.find((n) => n.self)!;
    a.child.kill('SIGKILL');
    await a.exited;
    await killAll(a.data);
    // Within its lease: the same data folder on the same host is the same node coming back.
    a = await startNode('a');
    const after = (await nodes(a)).nodes.find((n) => n.self)!;
    assert.equal(after.id, before.id);
    assert.equal(after.state, 'up');
    assert.equal(after.generation, before.generation + 1);
  });
  test('a node-down alarm whose holder is lost too is cleared by another once the node is back', async () => {
    b = await startNode('b');
    await prepare('d', a);
    let d = await startNode('d');
    const ids = new Map<string, Daemon>();
    for (const daemon of [a, b, d]) ids.set(await nodeIdOf(daemon), daemon);
    const dId = await nodeIdOf(d);
    d.child.kill('SIGKILL');
    await d.exited;
    const alarm = await eventually(
      async () => (await alarmsOf(a)).find((x) => x.code === 'node-down' && x.subject === dId),
      15_000,
      'node d alarmed',
    );
    // The node that holds the alarm is lost as well; the third one stays.
    const holder = ids.get(alarm.node!)!;
    const stays = holder === a ? b : a;
    const holderId = alarm.node!;
    holder.child.kill('SIGKILL');
    await holder.exited;
    await eventually(
      async () =>
        (await alarmsOf(stays)).some((x) => x.code === 'node-down' && x.subject === holderId)
          ? true
          : undefined,
      15_000,
      'the holder alarmed in turn',
    );
    d = await startNode('d');
    const after = await eventually(
      async () => {
        const list = await alarmsOf(stays);
        return list.some((x) => x.subject === dId) ? undefined : list;
      },
      15_000,
      'the orphaned alarm cleared',
    );
    // The holder's own loss is still alarmed, by the node that saw it.
    assert.deepEqual(
      after.filter((x) => x.code === 'node-down').map((x) => [x.subject, x.node]),
      [[holderId, await nodeIdOf(stays)]],
    );
    const history = JSON.parse(await cliOk(d, 'alarms', '--history', '--json')) as {
      history: { action: string; code: string; subject: string; node?: string }[];
    };
    assert.ok(
      history.history.some(
        (c) => c.action === 'cleared' && c.subject === dId && c.node === holderId,
      ),
      'the clear is in the holder history, which every node reads',
    );
  });
});
