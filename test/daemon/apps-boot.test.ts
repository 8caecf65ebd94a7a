import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AppStatus, EventsReport } from '../../src/api/index.js';
import { findProcesses } from '../../src/lib/processes.js';
import { loop, makeAppFolder } from '../helpers/apps.js';
import {
  cli,
  eventually,
  http,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  type Daemon,
} from '../helpers/daemon.js';

/** Processes running an app's `run` (its command line holds the installed path). */
/**
 * The app's own processes: those running its `run`, without their children. The loop's shell
 * forks a copy of itself (same command line) for a moment before each `sleep` execs, which
 * must not count as a second instance of the app.
 */
async function processesOfApp(data: string, id: string): Promise<number[]> {
  const pids = await findProcesses(join(data, 'apps', id, 'run'));
  const parentOf = async (pid: number) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };
  const own: number[] = [];
  for (const pid of pids) if (!pids.includes(await parentOf(pid))) own.push(pid);
  return own;
}

async function waitRunning(daemon: Daemon, id: string): Promise<AppStatus> {
  return eventually(
    async () => {
      const answer = await http('GET', { socket: daemon.socket }, `/manager/api/v1/apps/${id}`);
      const status = answer.body as AppStatus;
      return status.state === 'running' ? status : undefined;
    },
    30_000,
    `${id} running`,
  );
}

describe('apps across manager restarts', () => {
  let data: string;
  let work: string;

  before(async () => {
    data = await makeTemp();
    work = await makeTemp();
  });

  after(async () => {
    await killAll(data);
    await removeTemp(data);
    await removeTemp(work);
  });

  test('autostart apps run after a restart and after kill -9 of the manager, each exactly once', async () => {
    const first = await startDaemon({ data });
    for (const id of ['auto-a', 'auto-b']) {
      const folder = await makeAppFolder(work, id, { run: loop(`marker-${id}`) });
      assert.equal((await cli(['app', 'install', folder, '--autostart', '--data', data])).code, 0);
    }
    const manual = await makeAppFolder(work, 'manual', { run: loop('marker-manual') });
    await cli(['app', 'install', manual, '--data', data]);
    await cli(['app', 'start', 'manual', '--data', data]);
    await waitRunning(first, 'auto-a');
    await waitRunning(first, 'auto-b');
    await waitRunning(first, 'manual');

    assert.equal((await first.stop()).code, 0);
    assert.deepEqual(await findProcesses(join(data, 'apps')), [], 'a clean stop stops every app');

    const second = await startDaemon({ data });
    const a = await waitRunning(second, 'auto-a');
    await waitRunning(second, 'auto-b');
    const manualStatus = (
      await http('GET', { socket: second.socket }, '/manager/api/v1/apps/manual')
    ).body as AppStatus;
    assert.equal(manualStatus.state, 'stopped', 'an app without autostart stays stopped');
    assert.deepEqual(await processesOfApp(data, 'auto-a'), [a.pid]);

    // kill -9 leaves the apps running; the next manager must not start them twice.
    second.child.kill('SIGKILL');
    await second.exited;
    assert.deepEqual(await processesOfApp(data, 'auto-a'), [a.pid], 'the app outlived the manager');

    const third = await startDaemon({ data });
    const again = await waitRunning(third, 'auto-a');
    await waitRunning(third, 'auto-b');
    assert.notEqual(again.pid, a.pid, 'the left-over process was replaced');
    for (const id of ['auto-a', 'auto-b']) {
      assert.equal((await processesOfApp(data, id)).length, 1, `${id} runs exactly once`);
    }
    assert.equal((await third.stop()).code, 0);
    assert.deepEqual(await findProcesses(join(data, 'apps')), []);
  });

  test('an app whose folder disappeared is removed from the list at boot, with an event', async () => {
    const daemon = await startDaemon({ data });
    await rm(join(data, 'apps', 'manual'), { recursive: true });
    assert.equal((await daemon.stop()).code, 0);
    const next = await startDaemon({ data });
    try {
      const list = (await http('GET', { socket: next.socket }, '/manager/api/v1/apps')).body as {
        apps: { id: string }[];
      };
      assert.deepEqual(list.apps.map((a) => a.id).sort(), ['auto-a', 'auto-b']);
      const events = (await http('GET', { socket: next.socket }, '/manager/api/v1/events'))
        .body as EventsReport;
      assert.ok(events.events.some((e) => e.kind === 'app.missing' && e.subject === 'manual'));
    } finally {
      await next.stop();
    }
  });
});
