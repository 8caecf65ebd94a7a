/**
 * Apps on a cluster (docs/cluster.md, "Apps"): installed on one node, every node gets it from
 * the platform's package; a new version installed anywhere reaches all; an uninstall leaves
 * the platform, kept only where instances still need it; a package whose bytes do not match
 * its sha256 is installed nowhere.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NodesReport } from '../../src/api/index.js';
import { echoApp, TestCluster } from '../helpers/cluster.js';
import {
  cli,
  cliOk,
  createInstance,
  eventually,
  http,
  makeTemp,
  repoRoot,
  type Daemon,
} from '../helpers/daemon.js';

describe('apps on a cluster', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;

  /**
   * Waits until every node has echo at `version`, running, and the roll is over: every node
   * has the platform's package (the last one's wait for ready included), none holds the roll.
   */
  const everywhere = (version: string) =>
    eventually(
      async () => {
        for (const daemon of [a, b, c]) {
          const echo = await echoApp(daemon);
          if (echo?.version !== version || echo.state !== 'running') return undefined;
        }
        const [rows] = await cluster.server.superQuery(
          [
            `SELECT count(*)::int AS behind FROM apps a JOIN app_packages p ON p.app = a.id
             WHERE a.id = 'echo' AND (a.package_sha256 IS DISTINCT FROM p.sha256
               OR p.rolling_node IS NOT NULL)`,
          ],
          'appvisor',
        );
        return (rows!.rows[0] as { behind: number }).behind === 0 ? true : undefined;
      },
      60_000,
      `echo ${version} on every node`,
    );

  before(async () => {
    cluster = await TestCluster.create();
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
  });

  after(async () => {
    await cluster.destroy();
  });

  test('an app installed on one node is installed on every node, from one package', async () => {
    await cliOk(a, 'app', 'install', join(repoRoot, 'examples', 'echo'), '--autostart');
    await everywhere('1.0.0');
    const [rows] = await cluster.server.superQuery(
      ['SELECT node_id, package_sha256 FROM apps WHERE id = $$echo$$'],
      'appvisor',
    );
    const hashes = new Set(rows!.rows.map((row: { package_sha256: string }) => row.package_sha256));
    assert.equal(rows!.rowCount, 3);
    assert.equal(hashes.size, 1, 'one package on every node');
    const events = await cliOk(c, 'events', '-n', '100');
    assert.match(events, /app\.synced echo: echo installed from the platform's package/);
    // C can host an instance of it now.
    const cId = (JSON.parse(await cliOk(c, 'node', '--json')) as NodesReport).self;
    await createInstance(a, 'echo', 'kept', '--domain', 'example.com', '--node', cId);
    const counted = await http('POST', { url: a.httpUrl }, '/example.com/kept/count');
    assert.equal(counted.status, 200, counted.text);
  });

  test('a new version installed on any node reaches all', async () => {
    const work = await makeTemp();
    const folder = join(work, 'echo');
    await cp(join(repoRoot, 'examples', 'echo'), folder, { recursive: true });
    const manifest = JSON.parse(await readFile(join(folder, 'app.json'), 'utf8')) as {
      version: string;
    };
    await writeFile(join(folder, 'app.json'), JSON.stringify({ ...manifest, version: '1.0.1' }));
    await cliOk(b, 'app', 'install', folder);
    await everywhere('1.0.1');
    // The instance on C came through its app's update.
    const counted = await http('POST', { url: b.httpUrl }, '/example.com/kept/count');
    assert.deepEqual(counted.body, { instance: 'kept', count: 2 });
  });

  test('an uninstall leaves the platform; a node with instances of it keeps it', async () => {
    await cliOk(a, 'app', 'uninstall', 'echo');
    await eventually(
      async () => ((await echoApp(b)) === undefined ? true : undefined),
      30_000,
      'echo gone from B',
    );
    assert.equal(await echoApp(a), undefined);
    assert.ok(await echoApp(c), 'C hosts an instance of it');
    const instance = await http('GET', { url: a.httpUrl }, '/example.com/kept/count');
    assert.equal(instance.status, 200, 'the instance still answers');
  });

  test('a package whose bytes are not its sha256 is installed nowhere', async () => {
    await cluster.server.superQuery(
      [
        `INSERT INTO app_packages (app, sha256, archive, autostart, from_node)
         VALUES ('forged', '${'0'.repeat(64)}', 'not a package', true, 'nobody')`,
      ],
      'appvisor',
    );
    await eventually(
      async () =>
        /app\.sync-failed forged: .*sha256/.test(await cliOk(b, 'events', '-n', '100'))
          ? true
          : undefined,
      30_000,
      'the refusal on B',
    );
    const listed = await cli(['app', 'status', 'forged', '--data', b.data]);
    assert.match(listed.stderr, /error APP_NOT_FOUND/);
  });
});
