/**
 * A manager killed (SIGKILL) in the middle of a create or a restore: after the restart every
 * instance is complete or gone, never half made. The windows are held open with the test-only
 * pauses of config `testing.pauses`, whose warnings show on the daemon's stderr when they begin.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { BackupEntry } from '../../src/api/index.js';
import { markOf, setMark, storeClient } from '../helpers/database.js';
import { loop, makeAppFolder } from '../helpers/apps.js';
import {
  appStatus,
  cli,
  echoWithInstance,
  eventually,
  http,
  isAlive,
  killAll,
  makeTemp,
  processesOf,
  removeTemp,
  repoRoot,
  startDaemon,
  stopQuietly,
  waitForApp,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';

const echo = join(repoRoot, 'examples', 'echo');

/** Databases a restore left beside the live ones. */
async function leftoverDatabases(daemon: Daemon): Promise<string[]> {
  const client = await storeClient(daemon, 'postgres');
  try {
    return (
      await client.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'av\\_%' ORDER BY 1",
      )
    ).rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}

/** How often the manager has paused at `step` so far. */
function pauses(daemon: Daemon, step: string): number {
  return daemon.stderr().split(`test pause at ${step}`).length - 1;
}

/**
 * Runs `operation` (not awaited) and kills the manager with SIGKILL once it paused at `step`
 * (its warning is on stderr); resolves with the operation's result.
 */
async function killAtPause<T>(
  daemon: Daemon,
  step: string,
  operation: () => Promise<T>,
): Promise<T> {
  const before = pauses(daemon, step);
  const running = operation();
  await eventually(
    () => Promise.resolve(pauses(daemon, step) > before ? true : undefined),
    60_000,
    `the pause at ${step}`,
  );
  daemon.child.kill('SIGKILL');
  await daemon.exited;
  await killAll(daemon.data);
  return running;
}

/** Starts a daemon on `data` that pauses 20 s at `step`. */
function pausing(data: string, step: string): Promise<Daemon> {
  return startDaemon({ data, args: ['--set', `testing.pauses=${step}=20000`] });
}

describe('kill -9 of the manager during a create', () => {
  test('an instance create cut off after its row was written is undone at the restart', async (t) => {
    const data = await makeTemp();
    let daemon = await pausing(data, 'instance.provision');
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await removeTemp(data);
    });
    const installed = await cli(['app', 'install', echo, '--autostart', '--data', data]);
    assert.equal(installed.code, 0, installed.stderr);
    await waitForApp(daemon, 'echo');
    const created = await killAtPause(daemon, 'instance.provision', () =>
      cli(['instance', 'create', 'echo', 'cut', '--data', data]),
    );
    assert.notEqual(created.code, 0, 'the client was not told it worked');

    daemon = await startDaemon({ data });
    const shown = await http('GET', { socket: daemon.socket }, '/manager/api/v1/instances/cut');
    assert.equal(shown.status, 404, shown.text);
    const store = await storeClient(daemon);
    const rows = await store.query("SELECT provisioning FROM instances WHERE id = 'cut'");
    await store.end();
    assert.equal(rows.rowCount, 0, 'its row is removed');
    const again = await cli(['instance', 'create', 'echo', 'cut', '--data', data]);
    assert.equal(again.code, 0, again.stderr);
    await waitForInstance(daemon, 'cut');
  });
});

describe('kill -9 of the manager during a restore', () => {
  test('restore --as cut off while it fills the new instance: after the restart the instance is gone, and the restore runs again', async (t) => {
    const data = await makeTemp();
    let daemon = await pausing(data, 'restore.fill');
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await removeTemp(data);
    });
    await echoWithInstance(daemon, 'orig');
    await setMark(daemon, 'orig', 'from the backup');
    const made = await cli(['backup', 'create', 'orig', '--json', '--data', data]);
    assert.equal(made.code, 0, made.stderr);
    const archive = (JSON.parse(made.stdout) as BackupEntry).file;

    const restored = await killAtPause(daemon, 'restore.fill', () =>
      cli(['backup', 'restore', archive, '--as', 'copy', '--data', data]),
    );
    assert.notEqual(restored.code, 0, 'the client was not told it worked');

    daemon = await startDaemon({ data });
    const shown = await http('GET', { socket: daemon.socket }, '/manager/api/v1/instances/copy');
    assert.equal(shown.status, 404, `no half-restored instance is listed: ${shown.text}`);
    assert.deepEqual(await leftoverDatabases(daemon), []);
    const store = await storeClient(daemon, 'postgres');
    const dbs = await store.query("SELECT 1 FROM pg_database WHERE datname = 'i_copy'");
    const roles = await store.query("SELECT 1 FROM pg_roles WHERE rolname = 'i_copy'");
    await store.end();
    assert.equal(dbs.rowCount, 0, 'its database is dropped');
    assert.equal(roles.rowCount, 0, 'its role is dropped');
    assert.deepEqual(
      (await readdir(join(data, 'appdata', 'echo'))).filter((name) => name === 'copy'),
      [],
      'its folder is removed',
    );

    const again = await cli(['backup', 'restore', archive, '--as', 'copy', '--data', data]);
    assert.equal(again.code, 0, again.stderr);
    await waitForInstance(daemon, 'copy');
    assert.deepEqual(await markOf(daemon, 'copy'), {
      database: 'from the backup',
      folder: 'from the backup',
    });
  });

  // Killed after the database swap, the restore is rolled forward: both come from the backup.
  // Killed while it fills the new database, it is dropped: both stay as they were.
  for (const { step, expected, title } of [
    {
      step: 'restore.swap',
      expected: 'backed up',
      title: 'between the database swap and the folder swap: rolled forward at the restart',
    },
    {
      step: 'restore.fill',
      expected: 'changed later',
      title: 'while it fills the new database: the live instance is unchanged',
    },
  ]) {
    test(`restore --into cut off ${title}`, async (t) => {
      const data = await makeTemp();
      let daemon = await pausing(data, step);
      t.after(async () => {
        await stopQuietly(daemon);
        await killAll(data);
        await removeTemp(data);
      });
      await echoWithInstance(daemon, 'live');
      await setMark(daemon, 'live', 'backed up');
      const made = await cli(['backup', 'create', 'live', '--json', '--data', data]);
      assert.equal(made.code, 0, made.stderr);
      const archive = (JSON.parse(made.stdout) as BackupEntry).file;
      await setMark(daemon, 'live', 'changed later');

      await killAtPause(daemon, step, () =>
        cli(['backup', 'restore', archive, '--into', 'live', '--data', data]),
      );

      daemon = await startDaemon({ data });
      await waitForInstance(daemon, 'live');
      assert.deepEqual(
        await markOf(daemon, 'live'),
        { database: expected, folder: expected },
        'the database and the folder come from the same side',
      );
      assert.deepEqual(await leftoverDatabases(daemon), []);
      assert.deepEqual(await readdir(join(data, 'appdata', '.restores')).catch(() => []), []);
    });
  }
});

describe('kill -9 of the manager during an app install or start', () => {
  test('an app process spawned but not yet recorded is stopped at the restart: the app never runs twice', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    let daemon = await pausing(data, 'app.spawned');
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await removeTemp(data);
      await removeTemp(work);
    });
    const folder = await makeAppFolder(work, 'idler', {
      run: loop('idler'),
      manifest: { version: '1.0.0' },
    });
    const before = pauses(daemon, 'app.spawned');
    const installed = await cli(['app', 'install', folder, '--autostart', '--data', data]);
    assert.equal(installed.code, 0, installed.stderr);
    await eventually(
      () => Promise.resolve(pauses(daemon, 'app.spawned') > before || undefined),
      30_000,
      'the pause at app.spawned',
    );
    const running = await appStatus(daemon, 'idler');
    assert.ok(running.pid !== null);
    const store = await storeClient(daemon);
    const row = await store.query<{ pid: number | null }>(
      "SELECT pid FROM apps WHERE id = 'idler'",
    );
    await store.end();
    assert.equal(row.rows[0]?.pid, null, 'the pid is not recorded yet');
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    assert.ok(isAlive(running.pid), 'the app outlives the manager');

    daemon = await startDaemon({ data });
    const after = await waitForApp(daemon, 'idler');
    assert.notEqual(after.pid, running.pid);
    await eventually(
      () => Promise.resolve(!isAlive(running.pid!) || undefined),
      10_000,
      'the old process to end',
    );
    const runners = (await processesOf(data)).filter((pid) => pid !== daemon.child.pid);
    assert.ok(runners.includes(after.pid!), 'the new process runs');
    assert.ok(!runners.includes(running.pid), 'the process of the killed manager is gone');
  });

  test('an install cut off after it made the app user: the user is removed at the restart', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('app users are made only as root');
      return;
    }
    const data = await makeTemp();
    const work = await makeTemp();
    let daemon = await pausing(data, 'app.user');
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await removeTemp(data);
      await removeTemp(work);
    });
    const id = 'cutuser';
    const users = async () =>
      (await readFile('/etc/passwd', 'utf8'))
        .split('\n')
        .map((line) => line.split(':')[0]!)
        .filter((name) => name.startsWith(`av-${id}`));
    const had = await users();
    const folder = await makeAppFolder(work, id, {
      run: loop(id),
      manifest: { version: '1.0.0' },
    });
    const installed = await killAtPause(daemon, 'app.user', () =>
      cli(['app', 'install', folder, '--data', data]),
    );
    assert.notEqual(installed.code, 0, 'the client was not told it worked');
    const made = (await users()).filter((name) => !had.includes(name));
    assert.equal(made.length, 1, 'the pause came after the user was made');

    daemon = await startDaemon({ data });
    const shown = await http('GET', { socket: daemon.socket }, `/manager/api/v1/apps/${id}`);
    assert.equal(shown.status, 404, shown.text);
    assert.deepEqual(
      (await users()).filter((name) => !had.includes(name)),
      [],
      'the user of the cut-off install is gone',
    );
    const again = await cli(['app', 'install', folder, '--autostart', '--data', data]);
    assert.equal(again.code, 0, again.stderr);
    await waitForApp(daemon, id);
  });
});
