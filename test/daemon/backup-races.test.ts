/**
 * Backups at the same time as other backups and as a delete of their instance: every archive
 * keeps its own name, and an instance's backup, restore and delete never run into each other.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { BackupEntry, ErrorBody } from '../../src/api/index.js';
import { connectAs, credentials, storeClient } from '../helpers/database.js';
import {
  activeAlarms,
  api,
  cli,
  echoWithInstance,
  eventually,
  nodeServiceWithInstance,
  withDaemon,
} from '../helpers/daemon.js';

describe('backups at the same time', () => {
  // Several dumps at once: backups of different instances, and of one if nothing kept them
  // apart, run side by side.
  const running = withDaemon({ args: ['--set', 'backup.parallel=4'] });

  test('ten backups of one instance at once: ten archives, none replaced', async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'many');
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api(daemon, 'POST', '/backups', { instance: 'many' })),
    );
    for (const answer of answers) assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const files = answers.map((answer) => (answer.body as BackupEntry).file);
    assert.equal(new Set(files).size, 10, `ten names: ${files.join(' ')}`);
    const onDisk = (await readdir(join(daemon.data, 'backups', 'echo'))).filter((name) =>
      name.startsWith('many-'),
    );
    assert.equal(onDisk.length, 10, `ten files: ${onDisk.join(' ')}`);
    const listed = (await api(daemon, 'GET', '/backups?instance=many')).body as {
      backups: BackupEntry[];
    };
    assert.deepEqual(
      listed.backups.map((entry) => entry.file).sort(),
      [...files].sort(),
      'each is a whole archive of the instance',
    );
  });

  test('a fixed name is never replaced: the next archive gets a number; a rolling slot is', async () => {
    const { daemon } = running;
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await api(daemon, 'POST', '/backups', {
        instance: 'many',
        template: 'fixed/#I.tar',
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      made.push((answer.body as BackupEntry).file);
    }
    assert.deepEqual(made, ['fixed/many.tar', 'fixed/many-2.tar', 'fixed/many-3.tar']);
    for (let i = 0; i < 3; i++) {
      const answer = await api(daemon, 'POST', '/backups', {
        instance: 'many',
        template: 'slots/#I-#bn.tar',
        slots: 2,
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
    assert.deepEqual((await readdir(join(daemon.data, 'backups', 'slots'))).sort(), [
      'many-0.tar',
      'many-1.tar',
    ]);
  });

  test('a backup racing a delete of its instance: done before the delete or refused, never a 500; no alarm left', async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'racer', false);
    // Some 30 MB of table data, so that the dump is still running when the delete comes.
    const creds = await credentials(daemon, 'racer');
    const client = await connectAs(creds, creds.user);
    await client.query('CREATE TABLE bulk (id int, v text)');
    await client.query(
      `INSERT INTO bulk SELECT g, (SELECT string_agg(md5(random()::text || g || h), '')
         FROM generate_series(1, 1000) h) FROM generate_series(1, 1000) g`,
    );
    await client.end();
    const work = join(daemon.data, 'backups', '.work');
    const before = new Set(await readdir(work).catch(() => [] as string[]));
    const backup = api(daemon, 'POST', '/backups', { instance: 'racer' });
    // The delete comes once the backup writes its work files, i.e. while it dumps.
    for (let i = 0; i < 1000; i++) {
      const now = await readdir(work).catch(() => [] as string[]);
      if (now.some((name) => !before.has(name))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const deleted = await api(daemon, 'DELETE', '/instances/racer');
    const backedUp = await backup;
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.ok(
      backedUp.status === 201 ||
        (backedUp.status === 404 && (backedUp.body as ErrorBody).code === 'INSTANCE_NOT_FOUND'),
      `the backup is made or finds no instance: ${backedUp.status} ${JSON.stringify(backedUp.body)}`,
    );
    const alarms = await activeAlarms(daemon);
    assert.deepEqual(
      alarms.filter((alarm) => alarm.subject === 'racer'),
      [],
      'no alarm about an instance that is gone',
    );
    // After the delete, a backup is refused at once.
    const late = await api(daemon, 'POST', '/backups', { instance: 'racer' });
    assert.equal(late.status, 404);
    assert.equal((late.body as ErrorBody).code, 'INSTANCE_NOT_FOUND');
  });

  test("deleting an instance clears its alarms: backup-failed and its app's", async () => {
    const { daemon } = running;
    // A service that raises an alarm about each instance it starts.
    const alarming = `process.on('message', (m) => {
  if (m.type === 'instance.start') {
    process.send({ type: 'instance.ready', id: m.instance.id });
    process.send({ type: 'alarm', code: 'quota', severity: 'warning', text: 'near its quota', id: m.instance.id });
  }
  if (m.type === 'instance.stop') process.send({ type: 'instance.stopped', id: m.id });
});
process.send({ type: 'ready', httpSocket: null });
`;
    await nodeServiceWithInstance(daemon, 'alarming', alarming, { id: 'doomed', path: '/doomed' });
    await eventually(
      async () =>
        (await activeAlarms(daemon)).find(
          (alarm) => alarm.code === 'app:alarming:quota' && alarm.subject === 'doomed',
        ),
      30_000,
      "the app's alarm about its instance",
    );
    // A table the instance's role may not read (the superuser's): its dump fails.
    const creds = await credentials(daemon, 'doomed');
    const admin = await storeClient(daemon, creds.user);
    await admin.query('CREATE TABLE not_for_the_role (x int)');
    await admin.end();
    const failed = await cli(['backup', 'create', 'doomed', '--data', daemon.data]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^error BACKUP_FAILED: /);
    assert.deepEqual(
      (await activeAlarms(daemon))
        .filter((alarm) => alarm.subject === 'doomed')
        .map((alarm) => alarm.code)
        .sort(),
      ['app:alarming:quota', 'backup-failed'],
    );
    const deleted = await cli(['instance', 'delete', 'doomed', '--yes', '--data', daemon.data]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(
      (await activeAlarms(daemon)).filter((alarm) => alarm.subject === 'doomed'),
      [],
    );
  });
});
