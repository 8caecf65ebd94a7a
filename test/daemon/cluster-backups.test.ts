/**
 * Backups on a cluster (docs/cluster.md, "Backups"): the schedule is the platform's and each
 * node runs it for the instances it owns; any node lists the archives of every node's backup
 * folder, each naming its node, and restores one on the node that holds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BackupList, BackupSchedule, InstanceView } from '../../src/api/index.js';
import { echoOnNode, hostedBy, TestCluster } from '../helpers/cluster.js';
import { cli, cliOk, eventually, http, waitForInstance, type Daemon } from '../helpers/daemon.js';

describe('backups across the nodes of a cluster', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  let ids = new Map<Daemon, string>();

  const backups = async (daemon: Daemon, ...extra: string[]) =>
    JSON.parse(await cliOk(daemon, 'backup', 'list', ...extra, '--json')) as BackupList['backups'];
  const count = async (daemon: Daemon, id: string) =>
    (
      (await http('POST', { url: daemon.httpUrl }, `/example.com/${id}/count`)).body as {
        count: number;
      }
    ).count;

  before(async () => {
    cluster = await TestCluster.create();
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
    ids = await cluster.withEcho([a, b, c]);
    for (const [id, owner] of [
      ['on-b', b],
      ['on-c', c],
    ] as const) {
      await echoOnNode(a, id, ids.get(owner)!);
    }
  });

  after(async () => {
    await cluster.destroy();
  });

  test('a schedule set on one node is run by every node for the instances it owns', async () => {
    await cliOk(a, 'backup', 'schedule', '--cron', '*/2 * * * * *');
    // Each owner backs its own instance up into its own folder; A owns none and makes none.
    const made = await eventually(
      async () => {
        const listed = await backups(a);
        const of = (id: string) => listed.find((entry) => entry.instance === id);
        return of('on-b') && of('on-c') ? listed : undefined;
      },
      30_000,
      'scheduled archives of on-b and on-c',
    );
    await cliOk(c, 'backup', 'schedule', '--off');
    for (const entry of made) {
      assert.equal(entry.node, entry.instance === 'on-b' ? ids.get(b) : ids.get(c));
    }
    assert.ok(!made.some((entry) => entry.node === ids.get(a)));
    // The schedule turned off on C is off on every node at its next lease renewal.
    for (const daemon of [a, b]) {
      await eventually(async () => {
        const schedule = JSON.parse(
          await cliOk(daemon, 'backup', 'schedule', '--json'),
        ) as BackupSchedule;
        return schedule.cron === null && schedule.nextRun === null ? true : undefined;
      });
    }
    // Each node lists the same archives, with a NODE column.
    assert.deepEqual(
      (await backups(b)).map((entry) => `${entry.node} ${entry.file}`).sort(),
      (await backups(a)).map((entry) => `${entry.node} ${entry.file}`).sort(),
    );
    assert.match(await cliOk(b, 'backup', 'list'), /NODE/);
  });

  test('an archive is restored on the node that holds it, through any node', async () => {
    assert.equal(await count(a, 'on-c'), 1);
    const entry = JSON.parse(
      await cliOk(a, 'backup', 'create', 'on-c', '--template', '#I-by-hand', '--json'),
    ) as BackupList['backups'][number];
    assert.equal(await count(a, 'on-c'), 2);
    const file = entry.file;
    assert.ok(
      (await backups(b, '--instance', 'on-c')).some(
        (e) => e.file === file && e.node === ids.get(c),
      ),
    );

    // Into an instance of another node than the archive's: refused, nothing changed.
    const elsewhere = await cli([
      'backup',
      'restore',
      file,
      '--into',
      'on-b',
      '--node',
      ids.get(c)!,
      '--data',
      a.data,
    ]);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /error BACKUP_ON_OTHER_NODE: .*instance move on-b/);
    assert.equal(await count(a, 'on-b'), 1);

    // Into its own instance, on C, asked of A: the count is the archive's again.
    const restored = JSON.parse(
      await cliOk(a, 'backup', 'restore', file, '--into', 'on-c', '--node', ids.get(c)!, '--json'),
    ) as InstanceView;
    assert.equal(restored.id, 'on-c');
    await waitForInstance(a, 'on-c');
    assert.equal(await count(b, 'on-c'), 2);

    // As a new instance: made on the node that holds the archive.
    await cliOk(b, 'backup', 'restore', file, '--as', 'copy-of-c', '--node', ids.get(c)!);
    assert.ok((await hostedBy(c)).includes('copy-of-c'));
    await waitForInstance(a, 'copy-of-c');
    assert.equal(await count(a, 'copy-of-c'), 2);

    const unknown = await cli([
      'backup',
      'restore',
      file,
      '--as',
      'nowhere',
      '--node',
      'no-such-node',
      '--data',
      a.data,
    ]);
    assert.match(unknown.stderr, /error NODE_NOT_FOUND: /);
    const running = await http('GET', { socket: a.socket }, '/manager/api/v1/backups/running');
    assert.deepEqual(running.body, { operations: [] });
  });
});
