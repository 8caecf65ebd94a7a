/**
 * Failover (docs/cluster.md, "When a node is lost"): the instances of a node whose lease runs
 * out are taken over by the others and answer again with their data; a node that was only
 * frozen lets go of what it lost when it wakes; a node killed and started again runs nothing
 * twice; a client logged in over AppWebsocket reconnects and finds its instance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InstanceView } from '../../src/api/index.js';
import { connectAppWebsocket } from '../../src/sdk/testing/index.js';
import { hostedBy, TestCluster } from '../helpers/cluster.js';
import {
  cliOk,
  createInstance,
  eventually,
  http,
  killAll,
  passwordOf,
  type Daemon,
} from '../helpers/daemon.js';

describe('failover: the instances of a lost node are taken over', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  let ids = new Map<Daemon, string>();

  const hosted = hostedBy;
  const ownerOf = async (daemon: Daemon, id: string) =>
    (JSON.parse(await cliOk(daemon, 'instance', 'show', id, '--json')) as InstanceView).node;
  /** The node that owns `id`, as the store says (no node is asked: one may be frozen). */
  const storedOwner = async (id: string) => {
    const [found] = await cluster.server.superQuery(
      [`SELECT node_id FROM instances WHERE id = '${id}'`],
      'appvisor',
    );
    return (found!.rows[0] as { node_id: string } | undefined)?.node_id;
  };
  /**
   * Waits until instance `id` answers through `daemon`'s front; its count and the wait. Each
   * try gives up after 2 s: a request forwarded to a frozen node waits for it.
   */
  const answered = async (daemon: Daemon, id: string, since: number) => {
    const count = await eventually(
      async () => {
        const got = await fetch(`${daemon.httpUrl}/example.com/${id}/count`, {
          signal: AbortSignal.timeout(2_000),
        });
        return got.status === 200 ? ((await got.json()) as { count: number }).count : undefined;
      },
      60_000,
      `${id} answering again`,
    );
    return { count, ms: Date.now() - since };
  };

  before(async () => {
    cluster = await TestCluster.create();
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
    ids = await cluster.withEcho([a, b, c]);
    await createInstance(a, 'echo', 'alpha', '--domain', 'example.com', '--node', ids.get(c)!);
    await createInstance(a, 'echo', 'beta', '--domain', 'example.com', '--node', ids.get(b)!);
    for (const id of ['alpha', 'alpha', 'beta']) {
      const counted = await http('POST', { url: a.httpUrl }, `/example.com/${id}/count`);
      assert.equal(counted.status, 200, counted.text);
    }
  });

  after(async () => {
    if (c.child.pid) process.kill(c.child.pid, 'SIGCONT');
    await cluster.destroy();
  });

  test('a frozen node loses its instances to the others, and lets go of them when it wakes', async () => {
    const pid = c.child.pid!;
    process.kill(pid, 'SIGSTOP');
    const since = Date.now();
    try {
      await eventually(
        async () => ((await storedOwner('alpha')) === ids.get(c) ? undefined : true),
        30_000,
        'alpha given to another node',
      );
      const { count, ms } = await answered(a, 'alpha', since);
      assert.equal(count, 2, 'its data is there: the database is the platform’s');
      assert.ok(ms < 30_000, `taken over in ${ms} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Awake, C renews its lease, finds alpha owned elsewhere and stops hosting it.
    await eventually(
      async () => ((await hosted(c)).includes('alpha') ? undefined : true),
      20_000,
      'C letting go of alpha',
    );
    const events = await cliOk(c, 'events', '-n', '200');
    assert.match(events, /instance\.released.*alpha is owned by node/);
    // Through C's front, alpha is still reached: at its new owner.
    const viaC = await http('POST', { url: c.httpUrl }, '/example.com/alpha/count');
    assert.deepEqual(viaC.body, { instance: 'alpha', count: 3 });
    // Whichever of A and B saw C down first gave its instances away, and says so.
    const judged =
      (await cliOk(a, 'events', '-n', '200')) + (await cliOk(b, 'events', '-n', '200'));
    assert.match(judged, /node\.takeover.*alpha to/);
  });

  test('a node killed: its instance answers elsewhere, a client logs in again, nothing runs twice', async () => {
    const password = await passwordOf(a, 'beta');
    const url = `${a.httpUrl.replace(/^http/, 'ws')}/example.com/beta/`;
    const client = await connectAppWebsocket(url).catch((error: unknown) => {
      throw new Error(`before the kill: ${String(error)}`);
    });
    assert.equal((await client.login(password)).ok, true);
    const closed = new Promise((resolve) => client.ws.once('close', resolve));
    const since = Date.now();
    b.child.kill('SIGKILL');
    await b.exited;
    // The machine is gone: its app processes with it.
    await killAll(b.data);
    await closed;
    const { count, ms } = await answered(c, 'beta', since);
    assert.equal(count, 1);
    assert.ok(ms < 30_000, `answered again after ${ms} ms`);
    const again = await connectAppWebsocket(url).catch((error: unknown) => {
      throw new Error(`after the takeover: ${String(error)}`);
    });
    assert.equal((await again.login(password)).ok, true, 'the same password logs in');
    again.send({ mt: 'Echo', text: 'back', src: 'r' });
    assert.deepEqual(await again.next(), { mt: 'EchoResult', text: 'back', src: 'r' });
    again.ws.close();

    // B starts again on its data folder: beta is another node's now, and stays there.
    b = await cluster.start('b');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.ok(!(await hosted(b)).includes('beta'), 'B does not run beta again');
    assert.notEqual(await ownerOf(b, 'beta'), ids.get(b));
    const viaB = await http('GET', { url: b.httpUrl }, '/example.com/beta/count');
    assert.deepEqual(viaB.body, { instance: 'beta', count: 1 });
  });
});
