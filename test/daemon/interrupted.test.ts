/**
 * A manager killed (SIGKILL) in the middle of a create or a restore: after the restart every
 * instance is complete or gone, never half made. The windows are held open with the test-only
 * pauses of config `testing.pauses`, whose warnings show on the daemon's stderr when they begin.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { BackupEntry } from '../../src/api/index.js';
import { connectAs, credentials, storeClient } from '../helpers/database.js';
import {
  cli,
  echoWithInstance,
  eventually,
  http,
  killAll,
  makeTemp,
  removeTemp,
  repoRoot,
  startDaemon,
  stopQuietly,
  waitForApp,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';

const echo = join(repoRoot, 'examples', 'echo');

/** Sets the instance's one marker row (a table `marks`, made when missing). */
async function mark(daemon: Daemon, id: string, value: string): Promise<void> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS marks (v text)');
    await client.query('DELETE FROM marks');
    await client.query('INSERT INTO marks VALUES ($1)', [value]);
  } finally {
    await client.end();
  }
  await writeFile(join(daemon.data, 'appdata', 'echo', id, 'mark.txt'), value);
}

/** The marker of the instance's database and of its folder (null where there is none). */
async function marks(
  daemon: Daemon,
  id: string,
): Promise<{ database: string | null; folder: string | null }> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  let database: string | null = null;
  try {
    const found = await client.query<{ v: string }>(
      "SELECT v FROM marks WHERE to_regclass('marks') IS NOT NULL",
    );
    database = found.rows[0]?.v ?? null;
  } catch {
    database = null;
  } finally {
    await client.end();
  }
  const folder = await readFile(join(daemon.data, 'appdata', 'echo', id, 'mark.txt'), 'utf8').catch(
    () => null,
  );
  return { database, folder };
}

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
    const rows = await store.query("SELECT state FROM instances WHERE id = 'cut'");
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
    await mark(daemon, 'orig', 'from the backup');
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
    assert.deepEqual(await marks(daemon, 'copy'), {
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
      await mark(daemon, 'live', 'backed up');
      const made = await cli(['backup', 'create', 'live', '--json', '--data', data]);
      assert.equal(made.code, 0, made.stderr);
      const archive = (JSON.parse(made.stdout) as BackupEntry).file;
      await mark(daemon, 'live', 'changed later');

      await killAtPause(daemon, step, () =>
        cli(['backup', 'restore', archive, '--into', 'live', '--data', data]),
      );

      daemon = await startDaemon({ data });
      await waitForInstance(daemon, 'live');
      assert.deepEqual(
        await marks(daemon, 'live'),
        { database: expected, folder: expected },
        'the database and the folder come from the same side',
      );
      assert.deepEqual(await leftoverDatabases(daemon), []);
      assert.deepEqual(await readdir(join(data, 'appdata', '.restores')).catch(() => []), []);
    });
  }
});
