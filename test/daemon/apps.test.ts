import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { AppStatus, AppSummary } from '../../src/api/index.js';
import { findProcesses } from '../../src/lib/processes.js';
import { loop, makeAppFolder } from '../helpers/apps.js';
import {
  cli,
  eventually,
  http,
  makeTemp,
  removeTemp,
  repoRoot,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { appProcessUid } from '../helpers/proc.js';

const isRoot = process.getuid?.() === 0;

async function appCli(daemon: Daemon, ...args: string[]) {
  return cli([...args, '--data', daemon.data]);
}

async function statusOf(daemon: Daemon, id: string): Promise<AppStatus> {
  const answer = await http('GET', { socket: daemon.socket }, `/manager/api/v1/apps/${id}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body as AppStatus;
}

async function waitFor(
  daemon: Daemon,
  id: string,
  check: (status: AppStatus) => boolean,
  what: string,
): Promise<AppStatus> {
  return eventually(
    async () => {
      const status = await statusOf(daemon, id);
      return check(status) ? status : undefined;
    },
    30_000,
    `${id}: ${what}`,
  );
}

describe('apps: install, run and supervise', () => {
  const running = withDaemon({ args: ['--set', 'apps.stopGraceSeconds=2'] });
  let work: string;

  test('install → list → status → start → logs → stop → uninstall, via the CLI', async () => {
    const { daemon } = running;
    const sample = join(repoRoot, 'examples', 'sample_app_appcon');
    const install = await appCli(daemon, 'app', 'install', sample);
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /installed sample_app_appcon: stopped/);

    const list = await appCli(daemon, 'app', 'list', '--json');
    assert.deepEqual(JSON.parse(list.stdout) as AppSummary[], [
      {
        id: 'sample_app_appcon',
        version: null,
        autostart: false,
        runnable: true,
        state: 'stopped',
      },
    ]);

    const start = await appCli(daemon, 'app', 'start', 'sample_app_appcon');
    assert.equal(start.code, 0, start.stderr);
    const up = await waitFor(daemon, 'sample_app_appcon', (s) => s.state === 'running', 'running');
    assert.ok(up.pid && up.pid > 0);
    assert.equal(up.startCount, 1);
    const again = await appCli(daemon, 'app', 'start', 'sample_app_appcon');
    assert.match(again.stdout, /already running/);

    await eventually(
      async () => {
        const logs = await appCli(daemon, 'logs', 'sample_app_appcon', '-n', '20');
        return /\[out\] SampleApp pid: \d+ date:/.test(logs.stdout) ? true : undefined;
      },
      15_000,
      'the app to print',
    );

    const human = await appCli(daemon, 'app', 'status', 'sample_app_appcon');
    assert.match(human.stdout, /^state\s+running, pid \d+/m);

    const stop = await appCli(daemon, 'app', 'stop', 'sample_app_appcon', '--json');
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = (JSON.parse(stop.stdout) as { status: AppStatus }).status;
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.lastExit?.kind, 'stopped');
    assert.equal(stopped.pid, null);
    const logs = await appCli(daemon, 'logs', 'sample_app_appcon');
    assert.match(logs.stdout, /SampleApp Dying\.\.\./);
    assert.deepEqual(await findProcesses(join(daemon.data, 'apps', 'sample_app_appcon')), []);

    const uninstall = await appCli(daemon, 'app', 'uninstall', 'sample_app_appcon');
    assert.equal(uninstall.code, 0, uninstall.stderr);
    assert.deepEqual(JSON.parse((await appCli(daemon, 'app', 'list', '--json')).stdout), []);
    await assert.rejects(stat(join(daemon.data, 'apps', 'sample_app_appcon')));
    await assert.rejects(stat(join(daemon.data, 'appdata', 'sample_app_appcon')));
    const missing = await appCli(daemon, 'app', 'status', 'sample_app_appcon');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error APP_NOT_FOUND: /);
  });

  test('a package without run is installed but not runnable', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'norun', { files: { 'README.txt': 'no run here' } });
      assert.equal((await appCli(daemon, 'app', 'install', folder)).code, 0);
      const status = await statusOf(daemon, 'norun');
      assert.equal(status.runnable, false);
      for (const action of ['start', 'stop']) {
        const result = await appCli(daemon, 'app', action, 'norun');
        assert.equal(result.code, 1);
        assert.match(result.stderr, /^error NOT_RUNNABLE: /);
      }
      const list = JSON.parse(
        (await appCli(daemon, 'app', 'list', '--json')).stdout,
      ) as AppSummary[];
      assert.equal(list.find((a) => a.id === 'norun')?.runnable, false);
      const human = await appCli(daemon, 'app', 'list');
      assert.match(human.stdout, /norun\s+-\s+not runnable/);
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'norun');
      await removeTemp(work);
    }
  });

  test('an app that exits 1 once is running again after its restart delay', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'flaky', {
        run: `if [ ! -f crashed-once ]; then touch crashed-once; echo "crashing"; exit 1; fi\n${loop('flaky')}`,
        manifest: { version: '1.0.0', restart: { delaySeconds: 0.5 } },
      });
      assert.equal((await appCli(daemon, 'app', 'install', folder, '--autostart')).code, 0);
      const status = await waitFor(
        daemon,
        'flaky',
        (s) => s.state === 'running' && s.restarts === 1,
        'restarted once',
      );
      assert.equal(status.lastExit?.kind, 'error');
      assert.equal(status.lastExit.code, 1);
      assert.equal(status.startCount, 2);
      assert.equal(status.version, '1.0.0');
      const logs = await appCli(daemon, 'logs', 'flaky');
      assert.match(logs.stdout, /\[out\] crashing/);
      assert.match(logs.stdout, /\[appvisor\] ended \(error, code 1\)/);
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'flaky');
      await removeTemp(work);
    }
  });

  test('an app that exits 0 is not restarted', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'oneshot', {
        run: 'echo done; exit 0',
        manifest: { restart: { delaySeconds: 0.1 } },
      });
      await appCli(daemon, 'app', 'install', folder);
      await appCli(daemon, 'app', 'start', 'oneshot');
      const status = await waitFor(
        daemon,
        'oneshot',
        (s) => s.state === 'stopped' && s.lastExit !== null,
        'ended',
      );
      assert.equal(status.lastExit?.kind, 'regular');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const later = await statusOf(daemon, 'oneshot');
      assert.equal(later.startCount, 1);
      assert.equal(later.state, 'stopped');
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'oneshot');
      await removeTemp(work);
    }
  });

  test('an app that ignores SIGTERM is killed after the grace time, children included', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'stubborn', {
        run: "trap '' TERM\nsleep 987654 &\necho child started\nwhile true; do sleep 0.2; done",
        manifest: { stop: { graceSeconds: 1 } },
      });
      await appCli(daemon, 'app', 'install', folder);
      await appCli(daemon, 'app', 'start', 'stubborn');
      await waitFor(daemon, 'stubborn', (s) => s.state === 'running', 'running');
      await eventually(
        async () => ((await findProcesses('sleep 987654')).length === 1 ? true : undefined),
        10_000,
        'the child',
      );
      const began = Date.now();
      const stop = await appCli(daemon, 'app', 'stop', 'stubborn', '--json');
      const took = Date.now() - began;
      assert.equal(stop.code, 0, stop.stderr);
      const status = (JSON.parse(stop.stdout) as { status: AppStatus }).status;
      assert.equal(status.lastExit?.kind, 'killed');
      assert.ok(took >= 900, `the grace time was waited (${took} ms)`);
      assert.deepEqual(await findProcesses('sleep 987654'), [], 'the child is gone too');
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'stubborn');
      await removeTemp(work);
    }
  });

  test('re-install keeps the data folder without purge, empties it with purge, and replaces the files', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const v1 = await makeAppFolder(join(work, 'v1'), 'keeper', {
        run: loop('keeper-v1'),
        manifest: { version: '1' },
        files: { 'thing/inside.txt': 'a folder in v1', 'other.txt': 'a file in v1' },
      });
      await appCli(daemon, 'app', 'install', v1);
      await writeFile(join(daemon.data, 'appdata', 'keeper', 'state.txt'), 'precious');

      const v2 = await makeAppFolder(join(work, 'v2'), 'keeper', {
        run: loop('keeper-v2'),
        manifest: { version: '2' },
        files: { thing: 'a file in v2', 'other.txt/inside.txt': 'a folder in v2' },
      });
      const second = await appCli(daemon, 'app', 'install', v2);
      assert.equal(second.code, 0, second.stderr);
      assert.equal((await statusOf(daemon, 'keeper')).version, '2');
      const installed = join(daemon.data, 'apps', 'keeper');
      assert.equal(await readFile(join(installed, 'thing'), 'utf8'), 'a file in v2');
      assert.equal(
        await readFile(join(installed, 'other.txt', 'inside.txt'), 'utf8'),
        'a folder in v2',
      );
      assert.equal(
        await readFile(join(daemon.data, 'appdata', 'keeper', 'state.txt'), 'utf8'),
        'precious',
      );

      const third = await appCli(daemon, 'app', 'install', v1, '--purge');
      assert.equal(third.code, 0, third.stderr);
      assert.deepEqual(await readdir(join(daemon.data, 'appdata', 'keeper')), []);
      assert.equal((await statusOf(daemon, 'keeper')).version, '1');
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'keeper');
      await removeTemp(work);
    }
  });

  test('re-install keeps autostart unless told; it runs afterwards if it ran before or autostart is on', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const v1 = await makeAppFolder(join(work, 'a'), 'hot', {
        run: loop('hot-one'),
        manifest: { version: '1' },
      });
      const v2 = await makeAppFolder(join(work, 'b'), 'hot', {
        run: loop('hot-two'),
        manifest: { version: '2' },
      });
      const install = async (folder: string, ...flags: string[]) => {
        const result = await appCli(daemon, 'app', 'install', folder, ...flags);
        assert.equal(result.code, 0, result.stderr);
        return JSON.parse(
          (await appCli(daemon, 'app', 'status', 'hot', '--json')).stdout,
        ) as AppStatus;
      };
      await install(v1, '--autostart');
      const one = await waitFor(daemon, 'hot', (s) => s.state === 'running', 'running');
      // An upgrade without the flag: autostart stays on, the new version runs.
      let status = await install(v2);
      assert.equal(status.autostart, true, 'autostart kept');
      status = await waitFor(
        daemon,
        'hot',
        (s) => s.state === 'running' && s.version === '2',
        'v2',
      );
      assert.notEqual(status.pid, one.pid);
      assert.deepEqual(
        await findProcesses(join(daemon.data, 'apps', 'hot', 'run')),
        [status.pid],
        'only v2 runs',
      );
      // Stopped with autostart on, it starts: autostart asks for a running app.
      assert.equal((await appCli(daemon, 'app', 'stop', 'hot')).code, 0);
      status = await install(v1);
      assert.equal(status.autostart, true);
      await waitFor(daemon, 'hot', (s) => s.state === 'running' && s.version === '1', 'v1');
      // Stopped with autostart off, it stays stopped.
      assert.equal((await appCli(daemon, 'app', 'stop', 'hot')).code, 0);
      status = await install(v2, '--no-autostart');
      assert.deepEqual([status.version, status.state, status.autostart], ['2', 'stopped', false]);
      // Running without autostart, it runs again.
      assert.equal((await appCli(daemon, 'app', 'start', 'hot')).code, 0);
      await waitFor(daemon, 'hot', (s) => s.state === 'running', 'running');
      status = await install(v1);
      assert.equal(status.autostart, false);
      await waitFor(daemon, 'hot', (s) => s.state === 'running' && s.version === '1', 'v1');
      // --autostart asks for a start too, as on a first install.
      assert.equal((await appCli(daemon, 'app', 'stop', 'hot')).code, 0);
      status = await install(v2, '--autostart');
      assert.equal(status.autostart, true);
      await waitFor(daemon, 'hot', (s) => s.state === 'running' && s.version === '2', 'v2');
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'hot');
      await removeTemp(work);
    }
  });

  test('configure changes autostart and log size without starting or stopping', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'tuned', { run: loop('tuned') });
      await appCli(daemon, 'app', 'install', folder);
      const result = await appCli(
        daemon,
        'app',
        'configure',
        'tuned',
        '--autostart',
        'on',
        '--log-size',
        '70000',
        '--log-files',
        '2',
        '--json',
      );
      assert.equal(result.code, 0, result.stderr);
      const status = JSON.parse(result.stdout) as AppStatus;
      assert.equal(status.autostart, true);
      assert.deepEqual(status.log, { maxBytes: 70000, files: 2 });
      assert.equal(status.state, 'stopped', 'configure never starts the app');
      const bad = await appCli(daemon, 'app', 'configure', 'tuned', '--autostart', 'maybe');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--autostart takes on or off/);
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'tuned');
      await removeTemp(work);
    }
  });

  test('a chatty app never grows its logs past the cap', async () => {
    const { daemon } = running;
    work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'chatty', {
        run: 'while true; do echo "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; done',
      });
      await appCli(daemon, 'app', 'install', folder);
      await appCli(daemon, 'app', 'configure', 'chatty', '--log-size', '65536', '--log-files', '3');
      await appCli(daemon, 'app', 'start', 'chatty');
      const logs = join(daemon.data, 'logs');
      const total = async () => {
        let sum = 0;
        for (const name of await readdir(logs)) {
          // A file may be renamed by a rotation between the listing and the stat.
          if (name.startsWith('chatty.log'))
            sum += (await stat(join(logs, name)).catch(() => ({ size: 0 }))).size;
        }
        return sum;
      };
      await eventually(
        async () => ((await readdir(logs)).includes('chatty.log.2') ? true : undefined),
        20_000,
        'rotation',
      );
      for (let i = 0; i < 10; i++) {
        assert.ok((await total()) <= 3 * 65536, `logs within 3 × 64 KiB (${await total()})`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(!(await readdir(logs)).includes('chatty.log.3'));
      await appCli(daemon, 'app', 'stop', 'chatty');
    } finally {
      await appCli(daemon, 'app', 'uninstall', 'chatty');
      await removeTemp(work);
    }
  });

  test(
    'as root each app runs as its own user, never root, and owns its 0700 data folder',
    { skip: !isRoot && 'runs only as root' },
    async () => {
      const { daemon } = running;
      work = await makeTemp();
      try {
        const folder = await makeAppFolder(work, 'Mixed_Case-app', { run: loop('mixedcase') });
        await appCli(daemon, 'app', 'install', folder, '--autostart');
        const status = await waitFor(
          daemon,
          'Mixed_Case-app',
          (s) => s.state === 'running',
          'running',
        );
        const uid = await appProcessUid(status.pid!);
        assert.notEqual(uid, 0);
        const data = await stat(join(daemon.data, 'appdata', 'Mixed_Case-app'));
        assert.equal(data.uid, uid);
        assert.equal(data.mode & 0o777, 0o700);
        const installed = await stat(join(daemon.data, 'apps', 'Mixed_Case-app', 'run'));
        assert.equal(installed.uid, 0, 'the installed files stay root-owned');
      } finally {
        await appCli(daemon, 'app', 'uninstall', 'Mixed_Case-app');
        await removeTemp(work);
      }
    },
  );
});
