/**
 * Alarms whose owner knows in memory what it raised outlive that knowledge in the store: after
 * a restart of the manager each owner takes its alarms over again or clears them, and an app
 * that goes takes its alarms along.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ActiveAlarm, AlarmHistoryReport, AppStatus } from '../../src/api/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import {
  appStatus,
  cli,
  eventually,
  http,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  stopQuietly,
  type Daemon,
} from '../helpers/daemon.js';

describe('alarms across manager restarts', () => {
  let data: string;
  let work: string;
  let daemon: Daemon | undefined;

  const run = (...args: string[]) => cli([...args, '--data', data]);
  const active = async (): Promise<ActiveAlarm[]> =>
    (
      (await http('GET', { socket: daemon!.socket }, '/manager/api/v1/alarms')).body as {
        alarms: ActiveAlarm[];
      }
    ).alarms;
  const find = async (code: string, subject: string) =>
    (await active()).find((a) => a.code === code && a.subject === subject);
  const restart = async () => {
    await stopQuietly(daemon);
    daemon = await startDaemon({ data });
  };

  /** An app that fails at once until its `.ok` file is there; then it runs (stable after 1 s). */
  const install = async (id: string, manifest: Record<string, unknown>, autostart: boolean) => {
    const ok = join(work, `${id}.ok`);
    const folder = await makeAppFolder(work, id, {
      run: `if [ -f ${ok} ]; then trap 'exit 0' TERM; while true; do sleep 0.2 & wait $!; done; fi\nexit 1`,
      manifest,
    });
    const installed = await run('app', 'install', folder, ...(autostart ? ['--autostart'] : []));
    assert.equal(installed.code, 0, installed.stderr);
    return { heal: () => writeFile(ok, '') };
  };
  const quick = { delaySeconds: 0.05, maxDelaySeconds: 0.1, stableSeconds: 1 };

  before(async () => {
    data = await makeTemp();
    work = await makeTemp();
    daemon = await startDaemon({ data });
  });
  after(async () => {
    await stopQuietly(daemon);
    await killAll(data);
    await removeTemp(data);
    await removeTemp(work);
  });

  test('a crash-loop alarm is cleared by the first stable run after a restart', async () => {
    const app = await install('healer', { restart: quick }, true);
    await eventually(() => find('crash-loop', 'healer'), 30_000, 'crash-loop raised');
    // Healed while the manager is down: after the restart it never fails again.
    await stopQuietly(daemon);
    await app.heal();
    daemon = await startDaemon({ data });
    await eventually(
      async () => ((await appStatus(daemon!, 'healer')).state === 'running' ? true : undefined),
      30_000,
      'healer running',
    );
    await eventually(
      async () => ((await find('crash-loop', 'healer')) ? undefined : true),
      15_000,
      'crash-loop cleared by the stable run',
    );
    const history = (
      (await http('GET', { socket: daemon.socket }, '/manager/api/v1/alarms/history'))
        .body as AlarmHistoryReport
    ).history.filter((c) => c.code === 'crash-loop' && c.subject === 'healer');
    assert.match(history[0]!.text, /runs stably again/);
  });

  test('a gave-up (app-fatal) alarm stays over a restart and is cleared by a start', async () => {
    const app = await install('quitter', { restart: { ...quick, maxRetries: 1 } }, false);
    assert.equal((await run('app', 'start', 'quitter')).code, 0);
    await eventually(() => find('app-fatal', 'quitter'), 30_000, 'app-fatal raised');
    await restart();
    const kept = await find('app-fatal', 'quitter');
    assert.ok(kept, 'nobody started it since it gave up: the alarm is still true');
    const status: AppStatus = await appStatus(daemon!, 'quitter');
    assert.equal(status.state, 'stopped');
    await app.heal();
    const started = await run('app', 'start', 'quitter');
    assert.equal(started.code, 0, started.stderr);
    await eventually(
      async () => ((await find('app-fatal', 'quitter')) ? undefined : true),
      10_000,
      'app-fatal cleared by the start',
    );
  });

  test('an uninstalled app takes its alarms along', async () => {
    await install('doomed', { restart: quick }, true);
    await eventually(() => find('crash-loop', 'doomed'), 30_000, 'crash-loop raised');
    const removed = await run('app', 'uninstall', 'doomed');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await find('crash-loop', 'doomed'), undefined);
  });
});
