/**
 * Where an app runs on a cluster (docs/cluster.md, "Where an app runs"): an app without
 * autostart runs on the nodes that host instances of it, started with the first and stopped
 * after the last; one taken over starts its app on its new node.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NodesReport } from '../../src/api/index.js';
import { echoApp, echoOnNode, hostedBy, TestCluster } from '../helpers/cluster.js';
import { cliOk, eventually, repoRoot, waitForInstance, type Daemon } from '../helpers/daemon.js';

describe('an app runs where its instances are', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  const idOf = async (daemon: Daemon) =>
    (JSON.parse(await cliOk(daemon, 'node', '--json')) as NodesReport).self;
  /** Waits until echo is in `state` on each node named. */
  const states = (expected: Map<Daemon, string>, what: string) =>
    eventually(
      async () => {
        for (const [daemon, state] of expected) {
          if ((await echoApp(daemon))?.state !== state) return undefined;
        }
        return true;
      },
      30_000,
      what,
    );

  before(async () => {
    cluster = await TestCluster.create();
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
    // Installed without autostart: it runs nowhere until a node hosts an instance of it.
    await cliOk(a, 'app', 'install', join(repoRoot, 'examples', 'echo'));
    await eventually(
      async () => {
        for (const daemon of [a, b, c]) if (!(await echoApp(daemon))) return undefined;
        return true;
      },
      30_000,
      'echo on every node',
    );
  });

  after(async () => {
    await cluster.destroy();
  });

  test('the first instance on a node starts the app there; the last one gone stops it', async () => {
    await echoOnNode(a, 'one', await idOf(b));
    await states(
      new Map([
        [a, 'stopped'],
        [b, 'running'],
        [c, 'stopped'],
      ]),
      'echo running on B only',
    );
    const events = await cliOk(b, 'events', '-n', '50');
    assert.match(events, /app\.hosting echo: echo started: this node hosts instances of it/);
    await cliOk(a, 'instance', 'delete', 'one', '--yes');
    await states(new Map([[b, 'stopped']]), 'echo stopped on B');
  });

  test('an instance taken over starts its app on its new node', async () => {
    await echoOnNode(a, 'two', await idOf(c));
    await states(new Map([[c, 'running']]), 'echo running on C');
    c.child.kill('SIGKILL');
    await c.exited;
    const owner = await eventually(
      async () => {
        for (const daemon of [a, b]) if ((await hostedBy(daemon)).includes('two')) return daemon;
        return undefined;
      },
      30_000,
      'two taken over',
    );
    await waitForInstance(owner, 'two');
    assert.equal((await echoApp(owner))?.state, 'running');
    assert.equal((await echoApp(owner === a ? b : a))?.state, 'stopped');
  });
});
