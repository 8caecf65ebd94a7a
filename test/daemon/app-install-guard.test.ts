/**
 * `app install` over an installed app, for an app that hosts no instances: it must still come
 * up and stay up, or the previous version is put back (as a store update does); over a stopped
 * app nothing is waited for.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loop, makeAppFolder } from '../helpers/apps.js';
import {
  activeAlarms,
  appStatus,
  cli,
  cliOk,
  makeTemp,
  waitForApp,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

/** The app `plain` at `version`, whose process runs `run`. */
async function install(daemon: Daemon, version: string, run: string, ...options: string[]) {
  const folder = await makeAppFolder(await makeTemp(), 'plain', {
    run,
    manifest: { version },
  });
  return cli(['app', 'install', folder, ...options, '--data', daemon.data]);
}

describe('app install over an installed app without instances', () => {
  const running = withDaemon({ args: ['--set', 'apps.stopGraceSeconds=2'] });

  test('a new version that exits at once is rolled back; a good one is installed', async () => {
    const { daemon } = running;
    const first = await install(daemon, '1', loop('one'), '--autostart');
    assert.equal(first.code, 0, first.stderr);
    await waitForApp(daemon, 'plain');
    const broken = await install(daemon, '2', 'echo "cannot start"; exit 1');
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(
      broken.stderr,
      /error UPDATE_FAILED: plain 2 did not get ready: the app ended.*rolled back to 1/,
    );
    const status = await appStatus(daemon, 'plain');
    assert.deepEqual([status.version, status.state], ['1', 'running']);
    assert.ok((await activeAlarms(daemon)).some((a) => a.code === 'update-failed'));

    const good = await install(daemon, '3', loop('three'));
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /installed plain 3: running/);
    assert.ok(!(await activeAlarms(daemon)).some((a) => a.code === 'update-failed'));
  });

  test('over a stopped app nothing is waited for: it stays stopped', async () => {
    const { daemon } = running;
    await cliOk(daemon, 'app', 'stop', 'plain');
    await cliOk(daemon, 'app', 'configure', 'plain', '--autostart', 'off');
    // It would not start; as it is not started, that is not found out.
    const installed = await install(daemon, '4', 'exit 1');
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /installed plain 4: stopped/);
  });
});
