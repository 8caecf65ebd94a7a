/**
 * The full-disk net: a data folder on a small tmpfs (needs root to mount; skipped otherwise),
 * filled to the last block. Creates, backups and installs fail with DISK_FULL and leave
 * nothing half made; after `disk release` and freeing space everything works again, also
 * after a restart.
 */
import assert from 'node:assert/strict';
import { open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { BackupEntry, DiskReport } from '../../src/api/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import { connectAs, credentials } from '../helpers/database.js';
import {
  cli,
  echoWithInstance,
  eventually,
  http,
  killAll,
  makeTemp,
  mountTmpfs,
  removeTemp,
  startDaemon,
  stopQuietly,
  unmountTmpfs,
  waitForApp,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';

const reserve = 32 * 1024 * 1024;

function daemonOn(data: string): Promise<Daemon> {
  return startDaemon({
    data,
    args: ['--set', `disk.reserveBytes=${reserve}`, '--set', 'disk.checkSeconds=0.5'],
  });
}

/** Writes zeros to `path` until the disk has no block left. */
async function fillDisk(path: string): Promise<void> {
  const file = await open(path, 'a');
  try {
    for (const size of [4 * 1024 * 1024, 64 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          await file.write(chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    await file.close();
  }
}

async function rows(daemon: Daemon, id: string): Promise<string[]> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  try {
    return (await client.query<{ v: string }>('SELECT v FROM marks ORDER BY v')).rows.map(
      (row) => row.v,
    );
  } finally {
    await client.end();
  }
}

describe('a full disk', () => {
  test('create, backup and install answer DISK_FULL; nothing is corrupted; after disk release and freeing space all works again', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    if (!mountTmpfs(data, '400m')) {
      t.skip('mounting a tmpfs needs root: the full-disk net is not run');
      return;
    }
    const holder: { daemon?: Daemon } = {};
    t.after(async () => {
      await stopQuietly(holder.daemon);
      await killAll(data);
      await unmountTmpfs(data);
      await removeTemp(work);
    });
    let daemon = (holder.daemon = await daemonOn(data));
    await eventually(
      async () => ((await stat(join(data, 'reserve'))).blocks * 512 >= reserve ? true : undefined),
      30_000,
      'the reserve file',
    );
    await echoWithInstance(daemon, 'kept');
    const creds = await credentials(daemon, 'kept');
    const client = await connectAs(creds, creds.user);
    await client.query("CREATE TABLE marks (v text); INSERT INTO marks VALUES ('a'), ('b')");
    await client.end();
    const folder = join(data, 'appdata', 'echo', 'kept');
    await writeFile(join(folder, 'mark.txt'), 'kept file');
    const first = await cli(['backup', 'create', 'kept', '--json', '--data', data]);
    assert.equal(first.code, 0, first.stderr);
    const archive = (JSON.parse(first.stdout) as BackupEntry).file;
    const archiveBytes = await readFile(join(data, 'backups', archive));
    const extra = await makeAppFolder(work, 'extra', { run: 'exec sleep 3600' });

    await fillDisk(join(data, 'fill.bin'));

    // The manager's log says why, when an answer is not the one expected.
    const log = () => `manager said:\n${daemon.stderr().slice(-4000)}`;
    const created = await cli(['instance', 'create', 'echo', 'lost', '--data', data]);
    assert.match(created.stderr, /^error DISK_FULL: /, log());
    // The failed create does not hold the id.
    const again = await cli(['instance', 'create', 'echo', 'lost', '--data', data]);
    assert.match(again.stderr, /^error DISK_FULL: /, log());
    const backup = await cli(['backup', 'create', 'kept', '--data', data]);
    assert.match(backup.stderr, /^error DISK_FULL: /, log());
    const installed = await cli(['app', 'install', extra, '--data', data]);
    assert.match(installed.stderr, /^error DISK_FULL: /, log());

    const released = await cli(['disk', 'release', '--json', '--data', data]);
    assert.equal(released.code, 0, released.stderr);
    assert.equal((JSON.parse(released.stdout) as DiskReport).reserveBytes, 0);
    // With the reserve's space the manager works again, before anything else is freed: the
    // database server, stopped by the full disk, is back after its next restart.
    const listed = await http('GET', { socket: daemon.socket }, '/manager/api/v1/instances/lost');
    assert.equal(listed.status, 404, listed.text);
    assert.deepEqual(await eventually(() => rows(daemon, 'kept'), 90_000, 'the database back'), [
      'a',
      'b',
    ]);

    await rm(join(data, 'fill.bin'));
    // The create the client was told failed does not come back with a restart.
    await daemon.stop();
    daemon = holder.daemon = await daemonOn(data);
    const shown = await http('GET', { socket: daemon.socket }, '/manager/api/v1/instances/lost');
    assert.equal(shown.status, 404, shown.text);
    await waitForInstance(daemon, 'kept');
    assert.deepEqual(await rows(daemon, 'kept'), ['a', 'b']);
    assert.equal(await readFile(join(folder, 'mark.txt'), 'utf8'), 'kept file');
    assert.deepEqual(await readFile(join(data, 'backups', archive)), archiveBytes);
    assert.deepEqual(await readdir(join(data, 'backups', 'echo')), [archive.split('/')[1]]);

    const createdNow = await cli(['instance', 'create', 'echo', 'lost', '--data', data]);
    assert.equal(createdNow.code, 0, createdNow.stderr);
    await waitForInstance(daemon, 'lost');
    const backedUp = await cli(['backup', 'create', 'kept', '--data', data]);
    assert.equal(backedUp.code, 0, backedUp.stderr);
    const installedNow = await cli(['app', 'install', extra, '--autostart', '--data', data]);
    assert.equal(installedNow.code, 0, installedNow.stderr);
    await waitForApp(daemon, 'extra');
    const restored = await cli(['backup', 'restore', archive, '--as', 'copy', '--data', data]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await rows(daemon, 'copy'), ['a', 'b']);
  });
});
