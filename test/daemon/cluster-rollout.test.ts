/**
 * App updates rolled node by node (docs/cluster.md, "Apps"): a new package published on one
 * node reaches the others one at a time, each waiting until the app is ready again before
 * the next starts; a package that does not get ready on a node is rolled back there, halts
 * the roll (alarm `app-rollout-halted`) and is installed on no further node; a newer package
 * ends the halt.
 */
import assert from 'node:assert/strict';
import { chmod, cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ActiveAlarm, NodesReport } from '../../src/api/index.js';
import { echoApp, TestCluster } from '../helpers/cluster.js';
import { cliOk, eventually, http, makeTemp, repoRoot, type Daemon } from '../helpers/daemon.js';

/** When a node installed a version, found it ready, and let the roll go. */
interface Times {
  installed: number;
  updated: number;
  synced: number;
}

interface EventView {
  at: string;
  kind: string;
  subject: string;
  text: string;
}

describe('app updates rolled node by node', () => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  const ids = new Map<string, Daemon>();

  /** Waits until every node runs echo `version`. */
  const everywhere = (version: string) =>
    eventually(
      async () => {
        for (const daemon of [a, b, c]) {
          const echo = await echoApp(daemon);
          if (echo?.version !== version || echo.state !== 'running') return undefined;
        }
        return true;
      },
      60_000,
      `echo ${version} on every node`,
    );
  /** A node's own events of echo, oldest first. */
  const eventsOf = async (daemon: Daemon) => {
    const answer = await http(
      'GET',
      { socket: daemon.socket },
      '/manager/api/v1/events?limit=1000',
    );
    const { events } = answer.body as { events: EventView[] };
    return events.filter((event) => event.subject === 'echo').reverse();
  };
  /** The time of the first event of `kind` matching `text` at or after `after`; null: none. */
  const timeOf = (events: EventView[], kind: string, text: RegExp, after = 0) => {
    const found = events.find(
      (event) => event.kind === kind && text.test(event.text) && Date.parse(event.at) >= after,
    );
    return found ? Date.parse(found.at) : null;
  };
  /** A node's install of `version` from the platform: installed, ready, the roll let go. */
  const syncOf = async (daemon: Daemon, version: string): Promise<Times | undefined> => {
    const events = await eventsOf(daemon);
    const installed = timeOf(events, 'app.installed', new RegExp(` ${version} installed`));
    if (installed === null) return undefined;
    const updated = timeOf(events, 'app.updated', new RegExp(`to ${version} `), installed);
    if (updated === null) return undefined;
    const synced = timeOf(events, 'app.synced', /platform's package/, updated);
    return synced === null ? undefined : { installed, updated, synced };
  };
  const alarmsOf = async (daemon: Daemon) =>
    (JSON.parse(await cliOk(daemon, 'alarms', '--json')) as { alarms: ActiveAlarm[] }).alarms;
  /**
   * A copy of examples/echo at `version`; `onlyOn`: its `run` exits at once on every node but
   * that one (told by its folder, <node>/apps/echo).
   */
  const echoVersion = async (version: string, onlyOn?: string) => {
    const folder = join(await makeTemp(), 'echo');
    await cp(join(repoRoot, 'examples', 'echo'), folder, { recursive: true });
    const manifest = JSON.parse(await readFile(join(folder, 'app.json'), 'utf8')) as object;
    await writeFile(join(folder, 'app.json'), JSON.stringify({ ...manifest, version }));
    if (onlyOn !== undefined) {
      const run = await readFile(join(folder, 'run'), 'utf8');
      const guard = `case "$APPVISOR_APP_DIR" in */${onlyOn}/apps/echo) ;; *) exit 3 ;; esac\n`;
      await writeFile(join(folder, 'run'), run.replace('exec ', `${guard}exec `));
      await chmod(join(folder, 'run'), 0o755);
    }
    return folder;
  };

  before(async () => {
    cluster = await TestCluster.create();
    // A bounded wait for an updated app: the test's broken version fails at once anyway.
    const extra = ['--set', 'appstore.updateTimeoutSeconds=20'];
    a = await cluster.start('a', extra);
    await cluster.prepare('b', a);
    b = await cluster.start('b', extra);
    await cluster.prepare('c', a);
    c = await cluster.start('c', extra);
    for (const daemon of [a, b, c]) {
      ids.set((JSON.parse(await cliOk(daemon, 'node', '--json')) as NodesReport).self, daemon);
    }
    await cliOk(a, 'app', 'install', await echoVersion('1.0.0'), '--autostart');
    await everywhere('1.0.0');
  });

  after(async () => {
    await cluster.destroy();
  });

  test('an update published on one node reaches the others one at a time', async () => {
    await cliOk(a, 'app', 'install', await echoVersion('1.0.1'));
    await everywhere('1.0.1');
    // Recorded once the new version was ready (the install's wait), then the roll let go.
    const [first, second] = (
      await eventually(
        async () => {
          const times = await Promise.all([b, c].map((daemon) => syncOf(daemon, '1.0.1')));
          return times.every((t) => t !== undefined) ? times : undefined;
        },
        30_000,
        'the sync of 1.0.1 on B and C',
      )
    ).sort((x, y) => x.synced - y.synced) as [Times, Times];
    assert.ok(first.installed <= first.updated && first.updated <= first.synced);
    assert.ok(
      second.installed >= first.updated,
      `the second node installed (${second.installed}) after the first was ready (${first.updated})`,
    );
    // The roll let go right after the event.
    await eventually(
      async () => {
        const [rows] = await cluster.server.superQuery(
          [`SELECT rolling_node, halted FROM app_packages WHERE app = 'echo'`],
          'appvisor',
        );
        const [row] = rows!.rows as { rolling_node: string | null; halted: string | null }[];
        return row?.rolling_node === null && row.halted === null ? true : undefined;
      },
      10_000,
      'the roll over',
    );
  });

  test('a package that does not get ready halts the roll and is put back', async () => {
    // Runs on A, where it is installed and published; exits at once anywhere else.
    await cliOk(a, 'app', 'install', await echoVersion('1.0.2', 'a'));
    assert.equal((await echoApp(a))?.version, '1.0.2');
    const alarm = await eventually(
      async () => (await alarmsOf(a)).find((x) => x.code === 'app-rollout-halted'),
      60_000,
      'the halt alarm',
    );
    assert.equal(alarm.subject, 'echo');
    const tried = ids.get(alarm.node!)!;
    assert.ok(tried === b || tried === c, 'raised by the node that tried it');
    const other = tried === b ? c : b;
    // The node that tried it runs the previous version again.
    await eventually(
      async () => {
        const echo = await echoApp(tried);
        return echo?.version === '1.0.1' && echo.state === 'running' ? true : undefined;
      },
      30_000,
      'echo 1.0.1 back on the node that tried 1.0.2',
    );
    const triedEvents = await eventsOf(tried);
    assert.ok(triedEvents.some((e) => e.kind === 'app.sync-failed' && /halted/.test(e.text)));
    // The third node never takes it: several passes later it still has 1.0.1, and never
    // installed 1.0.2.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal((await echoApp(other))?.version, '1.0.1');
    assert.ok(
      !(await eventsOf(other)).some((e) => e.kind === 'app.installed' && /1\.0\.2/.test(e.text)),
    );
    const [rows] = await cluster.server.superQuery(
      [`SELECT rolling_node, halted FROM app_packages WHERE app = 'echo'`],
      'appvisor',
    );
    const row = rows!.rows[0] as { rolling_node: string | null; halted: string | null };
    assert.equal(row.rolling_node, null);
    assert.match(row.halted ?? '', new RegExp(`node ${alarm.node!}: `));
  });

  test('a newer package ends the halt and rolls to every node', async () => {
    await cliOk(b, 'app', 'install', await echoVersion('1.0.3'));
    await everywhere('1.0.3');
    await eventually(
      async () =>
        (await alarmsOf(a)).some((x) => x.code === 'app-rollout-halted') ? undefined : true,
      30_000,
      'the halt alarm cleared',
    );
  });
});
