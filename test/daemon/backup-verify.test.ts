/**
 * Backups that restore, through the real daemon: an instance whose database holds every kind of
 * object pg_dump emits is backed up, verified, restored `--as` a new instance and `--into`
 * itself, and comes back the same row for row and definition for definition; a backup that
 * cannot be restored is found by `verify` (by hand and on the schedule) and raises
 * `backup-unverified`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type pg from 'pg';
import type { BackupEntry, StatusReport } from '../../src/api/index.js';
import { connectAs, credentials, storeClient } from '../helpers/database.js';
import {
  cli,
  echoWithInstance,
  http,
  waitForInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { fillFixture, fingerprint } from '../helpers/fixture.js';

async function asInstance<T>(
  daemon: Daemon,
  id: string,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function activeAlarms(daemon: Daemon): Promise<StatusReport['alarms']> {
  const answer = await http('GET', { socket: daemon.socket }, '/manager/api/v1/status');
  return (answer.body as StatusReport).alarms;
}

/** Databases a restore or a verify made beside the live ones and has not dropped. */
async function scratchDatabases(daemon: Daemon): Promise<string[]> {
  const client = await storeClient(daemon);
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'av\\_restore\\_%' OR datname LIKE 'av\\_old\\_%'",
    );
    return rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}

async function events(daemon: Daemon, kind: string, subject: string): Promise<string[]> {
  const answer = await http('GET', { socket: daemon.socket }, '/manager/api/v1/events?limit=1000');
  return (answer.body as { events: { kind: string; subject: string; text: string }[] }).events
    .filter((event) => event.kind === kind && event.subject === subject)
    .map((event) => event.text);
}

describe('backups that restore', () => {
  const running = withDaemon();
  let expected: Record<string, unknown>;
  let archive: string;

  test('a verified backup of every kind of object restores --as and --into, the same', async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'fix');
    await asInstance(daemon, 'fix', fillFixture);
    expected = await asInstance(daemon, 'fix', fingerprint);

    const made = await cli([
      'backup',
      'create',
      'fix',
      '--verify',
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const entry = JSON.parse(made.stdout) as BackupEntry;
    archive = entry.file;
    // Every row of every table (a materialized view's rows are not in the dump: it is refreshed).
    const tables = expected.tables as Record<string, { rows: number }>;
    const rows = Object.entries(tables)
      .filter(([name]) => name !== 'public.child_counts')
      .reduce((sum, [, table]) => sum + table.rows, 0);
    assert.ok(entry.verified, made.stdout);
    assert.equal(entry.verified.rows, rows, 'verify counted every row of every table');
    assert.ok(entry.verified.tables >= 13, `${entry.verified.tables} tables`);
    assert.equal((await events(daemon, 'backup.verified', 'fix')).length, 1);
    assert.deepEqual(await scratchDatabases(daemon), [], 'the scratch database is dropped');
    const plain = await cli(['backup', 'create', 'fix', '--verify', '--data', daemon.data]);
    assert.match(plain.stdout, /, verified: \d+ tables, \d+ rows restored in [\d.]+ s\)\n$/);

    const cloned = await cli(['backup', 'restore', archive, '--as', 'fix2', '--data', daemon.data]);
    assert.equal(cloned.code, 0, cloned.stderr);
    await waitForInstance(daemon, 'fix2');
    assert.deepEqual(await asInstance(daemon, 'fix2', fingerprint), expected);

    await asInstance(daemon, 'fix', async (client) => {
      await client.query('DELETE FROM child; DROP FUNCTION add_stat(text, integer)');
      await client.query(`SELECT lo_unlink(oid) FROM pg_largeobject_metadata`);
    });
    assert.notDeepEqual(await asInstance(daemon, 'fix', fingerprint), expected);
    const replaced = await cli([
      'backup',
      'restore',
      archive,
      '--into',
      'fix',
      '--data',
      daemon.data,
    ]);
    assert.equal(replaced.code, 0, replaced.stderr);
    await waitForInstance(daemon, 'fix');
    assert.deepEqual(await asInstance(daemon, 'fix', fingerprint), expected);
    assert.deepEqual(await scratchDatabases(daemon), []);
  });

  test('a backup that does not restore fails verify, raises backup-unverified, and is kept', async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'bad', false);
    // A comment holding the dump's own layout (an entry header and a COPY line): the restore
    // refuses the SQL cut inside it (dump-script.ts); the dump itself succeeds.
    await asInstance(daemon, 'bad', (client) =>
      client.query(
        `CREATE TABLE t (a text);
         COMMENT ON TABLE t IS E'x\\n--\\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -\\n--\\n\\nCOPY public.t (a) FROM stdin;\\n\\\\.\\n'`,
      ),
    );
    const failed = await cli([
      'backup',
      'create',
      'bad',
      '--verify',
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      /^error BACKUP_UNVERIFIED: echo\/bad-\d{8}-\d{6}\.tar was written, but a test restore of it failed: the dump failed .*unterminated quoted string/,
    );
    const file = /^error BACKUP_UNVERIFIED: (\S+) /.exec(failed.stderr)![1]!;
    assert.ok(existsSync(join(daemon.data, 'backups', file)), 'the archive is kept');
    const alarms = await activeAlarms(daemon);
    assert.ok(alarms.some((a) => a.code === 'backup-unverified' && a.subject === 'bad'));
    assert.ok(!alarms.some((a) => a.code === 'backup-failed' && a.subject === 'bad'));
    assert.deepEqual(await scratchDatabases(daemon), [], 'the scratch database is dropped');

    // Once the database restores again, a verified backup clears the alarm.
    const comment = await asInstance(daemon, 'bad', async (client) => {
      const { rows } = await client.query<{ text: string }>(
        "SELECT obj_description('t'::regclass, 'pg_class') AS text",
      );
      await client.query('COMMENT ON TABLE t IS NULL');
      return rows[0]!.text;
    });
    const good = await cli(['backup', 'create', 'bad', '--verify', '--data', daemon.data]);
    assert.equal(good.code, 0, good.stderr);
    assert.ok(!(await activeAlarms(daemon)).some((a) => a.code === 'backup-unverified'));

    // A scheduled backup with verify raises it too.
    await asInstance(daemon, 'bad', (client) =>
      client.query(`COMMENT ON TABLE t IS '${comment.replace(/'/g, "''")}'`),
    );
    for (const id of ['fix', 'fix2']) {
      const excluded = await http(
        'PATCH',
        { socket: daemon.socket },
        `/manager/api/v1/instances/${id}`,
        {
          body: { excludeFromBackup: true },
        },
      );
      assert.equal(excluded.status, 200, excluded.text);
    }
    const set = await cli([
      'backup',
      'schedule',
      '--cron',
      '* * * * * *',
      '--template',
      'scheduled/#I-#bn.tar',
      '--slots',
      '2',
      '--verify',
      'on',
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((JSON.parse(set.stdout) as { verify: boolean }).verify, true);
    const unverified = async () =>
      (await activeAlarms(daemon)).some(
        (a) => a.code === 'backup-unverified' && a.subject === 'bad',
      );
    try {
      for (let i = 0; i < 300 && !(await unverified()); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      const off = await cli([
        'backup',
        'schedule',
        '--off',
        '--verify',
        'off',
        '--json',
        '--data',
        daemon.data,
      ]);
      assert.equal((JSON.parse(off.stdout) as { verify: boolean }).verify, false);
    }
    assert.ok(await unverified(), 'the scheduled backup raised backup-unverified');
    assert.ok(existsSync(join(daemon.data, 'backups', 'scheduled', 'bad-0.tar')));
  });
});
