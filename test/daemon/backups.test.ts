import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type pg from 'pg';
import type { BackupEntry, ErrorBody, InstanceView, StatusReport } from '../../src/api/index.js';
import { connectAs, credentials } from '../helpers/database.js';
import {
  activeAlarms,
  api,
  cli,
  echoWithInstance,
  eventually,
  http,
  installEcho,
  killAll,
  makeTemp,
  mountTmpfs,
  startDaemon,
  stopQuietly,
  unmountTmpfs,
  waitForApp,
  waitForInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

const fixture = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE kinds (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  serialcol serial,
  b boolean, i2 smallint, i8 bigint, n numeric(20, 5), r real, d double precision,
  t text, vc varchar(20), ch char(3), by bytea, ts timestamptz, dt date, tm time, iv interval,
  u uuid, j jsonb, js json, arr integer[], tarr text[], ip inet, m mood, p positive,
  rng int4range, x xml, pt point
);
COMMENT ON TABLE kinds IS 'every kind; with a quote '' and a semicolon';
COMMENT ON COLUMN kinds.t IS 'text column';
CREATE SEQUENCE counter START 5;
SELECT setval('counter', 1234);
CREATE TABLE parent (id int PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE child (
  id int PRIMARY KEY,
  parent_id int REFERENCES parent (id) ON DELETE CASCADE,
  qty int CHECK (qty >= 0)
);
CREATE INDEX child_qty ON child (qty) WHERE qty > 10;
CREATE VIEW child_view AS SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.parent_id;
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.qty := NEW.qty + 1; -- a comment; with a semicolon
  RETURN NEW;
END $$;
CREATE TRIGGER child_bump BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION bump();
CREATE TABLE measures (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE measures_2025 PARTITION OF measures FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measures_2026 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, 50) g;
INSERT INTO child SELECT g, 1 + g % 50, g % 30 FROM generate_series(1, 2000) g;
INSERT INTO measures SELECT DATE '2025-06-01' + g, g FROM generate_series(1, 400) g;
CREATE MATERIALIZED VIEW child_counts AS
  SELECT parent_id, count(*) AS n FROM child GROUP BY parent_id;
`;

/** Rows of every table and the catalog facts a restore must reproduce. */
async function snapshot(client: pg.Client): Promise<Record<string, unknown>> {
  const q = async (sql: string): Promise<unknown[]> =>
    (await client.query<Record<string, unknown>>(sql)).rows;
  return {
    kinds: await q('SELECT * FROM kinds ORDER BY id'),
    parent: await q('SELECT * FROM parent ORDER BY id'),
    child: await q('SELECT * FROM child ORDER BY id'),
    measures: await q('SELECT * FROM measures ORDER BY at'),
    hits: await q('SELECT * FROM hits ORDER BY id'),
    childCounts: await q('SELECT * FROM child_counts ORDER BY parent_id'),
    sequences: await q(
      'SELECT sequencename, last_value, start_value FROM pg_sequences ORDER BY sequencename',
    ),
    columns: await q(
      `SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
    ),
    constraints: await q(
      `SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
    ),
    indexes: await q(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    ),
    triggers: await q(
      'SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1',
    ),
    views: await q("SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'"),
    matviews: await q(
      "SELECT matviewname, definition FROM pg_matviews WHERE schemaname = 'public'",
    ),
    functions: await q(
      `SELECT proname, pg_get_functiondef(oid) AS def FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace ORDER BY 1`,
    ),
    enums: await q('SELECT enumlabel FROM pg_enum ORDER BY enumsortorder'),
    domains: await q(
      `SELECT domain_name, data_type FROM information_schema.domains
        WHERE domain_schema = 'public'`,
    ),
    partitions: await q(
      `SELECT inhrelid::regclass::text AS part, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid ORDER BY 1`,
    ),
    comments: await q(
      "SELECT obj_description('kinds'::regclass, 'pg_class') AS t, col_description('kinds'::regclass, 9) AS c",
    ),
  };
}

async function instanceClient(daemon: Daemon, id: string): Promise<pg.Client> {
  const creds = await credentials(daemon, id);
  return connectAs(creds, creds.user);
}

async function fill(daemon: Daemon, id: string, big: { text: string; bytes: Buffer }) {
  const client = await instanceClient(daemon, id);
  try {
    await client.query(fixture);
    await client.query(
      `INSERT INTO kinds (b, i2, i8, n, r, d, t, vc, ch, by, ts, dt, tm, iv, u, j, js, arr, tarr,
         ip, m, p, rng, x, pt)
       VALUES (true, 1, 9007199254740993, 12345.6789, 1.5, 2.25, $1, 'tab\there', 'abc', $2,
         '2026-11-22 10:00:00+00', '2026-11-22', '10:11:12', '1 day 2 hours', gen_random_uuid(),
         '{"a": [1, "x"]}', '{"b": 2}', '{1,2,3}', '{"a b","c\\\\d"}', '10.0.0.1', 'happy', 7,
         '[1,5)', '<a>x</a>', '(1,2)'),
       (NULL, NULL, NULL, NULL, NULL, NULL, E'line\\nbreak \\\\ back\\\\slash ünïcödé 🙂', NULL,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL)`,
      [big.text, big.bytes],
    );
    await client.query("SELECT setval('counter', 4321)");
  } finally {
    await client.end();
  }
}

async function snapshotOf(daemon: Daemon, id: string): Promise<Record<string, unknown>> {
  const client = await instanceClient(daemon, id);
  try {
    return await snapshot(client);
  } finally {
    await client.end();
  }
}

function dataDirOf(daemon: Daemon, id: string): string {
  return join(daemon.data, 'appdata', 'echo', id);
}

async function filesOf(folder: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, `${prefix}${entry.name}/`);
      else out[`${prefix}${entry.name}`] = (await readFile(path)).toString('base64');
    }
  };
  await walk(folder, '');
  return out;
}

describe('backups of an instance', () => {
  const running = withDaemon();
  const big = { text: 'x'.repeat(2_000_000), bytes: randomBytes(300_000) };
  let original: Record<string, unknown>;
  let originalFiles: Record<string, string>;
  let archive = '';

  before(async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'shop');
    await fill(daemon, 'shop', big);
    const folder = dataDirOf(daemon, 'shop');
    await mkdir(join(folder, 'uploads', 'deep'), { recursive: true });
    await writeFile(join(folder, 'uploads', 'deep', 'photo.bin'), randomBytes(100_000));
    await writeFile(join(folder, 'notes.txt'), 'files come back too\n');
    original = await snapshotOf(daemon, 'shop');
    originalFiles = await filesOf(folder);
  });

  test('backup create writes an archive that backup list shows', async () => {
    const { daemon } = running;
    const made = await cli(['backup', 'create', 'shop', '--json', '--data', daemon.data]);
    assert.equal(made.code, 0, made.stderr);
    const entry = JSON.parse(made.stdout) as BackupEntry;
    assert.match(entry.file, /^echo\/shop-\d{8}-\d{6}\.tar$/);
    assert.equal(entry.instance, 'shop');
    assert.equal(entry.app, 'echo');
    assert.ok(entry.size > 300_000);
    archive = entry.file;
    const listed = await cli(['backup', 'list', '--instance', 'shop', '--data', daemon.data]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${archive.replace('.', '\\.')}\\s+shop\\s+echo`));
    const mode = (await stat(join(daemon.data, 'backups', archive))).mode & 0o777;
    assert.equal(mode, 0o600, 'archives are private');
  });

  test('restore as a clone gives the same rows, sequences, schema and files', async () => {
    const { daemon } = running;
    const restored = await cli([
      'backup',
      'restore',
      archive,
      '--as',
      'shop2',
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal((JSON.parse(restored.stdout) as InstanceView).id, 'shop2');
    await waitForInstance(daemon, 'shop2');
    assert.deepEqual(await snapshotOf(daemon, 'shop2'), original);
    assert.deepEqual(await filesOf(dataDirOf(daemon, 'shop2')), originalFiles);
    const owner = await stat(join(dataDirOf(daemon, 'shop2'), 'uploads', 'deep', 'photo.bin'));
    const folderOwner = await stat(dataDirOf(daemon, 'shop'));
    assert.equal(owner.uid, folderOwner.uid, 'restored files belong to the app user');
    // The clone serves.
    const page = await http('GET', { url: daemon.httpUrl }, '/example.com/shop2/count');
    assert.equal(page.status, 200, page.text);
  });

  test('restore into the live instance replaces its data and files', async () => {
    const { daemon } = running;
    const client = await instanceClient(daemon, 'shop');
    await client.query('DELETE FROM child');
    await client.query('INSERT INTO parent VALUES (999, $1)', ['added later']);
    await client.end();
    await writeFile(join(dataDirOf(daemon, 'shop'), 'later.txt'), 'not in the backup');
    const restored = await cli([
      'backup',
      'restore',
      archive,
      '--into',
      'shop',
      '--data',
      daemon.data,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    await waitForInstance(daemon, 'shop');
    assert.deepEqual(await snapshotOf(daemon, 'shop'), original);
    assert.deepEqual(await filesOf(dataDirOf(daemon, 'shop')), originalFiles);
    const page = await http('POST', { url: daemon.httpUrl }, '/example.com/shop/count');
    assert.equal(page.status, 200, page.text);
  });

  test('an encrypted archive needs its passphrase; a wrong one leaves the instance as it is', async () => {
    const { daemon } = running;
    const dir = await makeTemp();
    const passFile = join(dir, 'pass');
    await writeFile(passFile, 'a long backup passphrase\n');
    const wrongFile = join(dir, 'wrong');
    await writeFile(wrongFile, 'another passphrase\n');
    const made = await cli([
      'backup',
      'create',
      'shop',
      '--template',
      'secret/#I.tar',
      '--passphrase-file',
      passFile,
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const entry = JSON.parse(made.stdout) as BackupEntry;
    assert.equal(entry.file, 'secret/shop.tar');
    assert.equal(entry.encrypted, true);
    const raw = await readFile(join(daemon.data, 'backups', entry.file));
    assert.ok(!raw.includes(Buffer.from('files come back too')), 'nothing readable inside');

    const before = await snapshotOf(daemon, 'shop');
    for (const args of [[], ['--passphrase-file', wrongFile]]) {
      const refused = await cli([
        'backup',
        'restore',
        entry.file,
        '--into',
        'shop',
        ...args,
        '--data',
        daemon.data,
      ]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error PASSPHRASE_WRONG: /);
    }
    assert.deepEqual(await snapshotOf(daemon, 'shop'), before);
    const good = await cli([
      'backup',
      'restore',
      entry.file,
      '--as',
      'shop3',
      '--passphrase-file',
      passFile,
      '--data',
      daemon.data,
    ]);
    assert.equal(good.code, 0, good.stderr);
    await waitForInstance(daemon, 'shop3');
    assert.deepEqual(await snapshotOf(daemon, 'shop3'), before);
  });

  test('a damaged archive, a file that is no backup, or a missing one: clear errors', async () => {
    const { daemon } = running;
    const path = join(daemon.data, 'backups', archive);
    const bytes = await readFile(path);
    const damaged = Buffer.from(bytes);
    damaged[Math.floor(bytes.length / 2)] = damaged[Math.floor(bytes.length / 2)]! ^ 0xff;
    await writeFile(join(daemon.data, 'backups', 'damaged.tar'), damaged);
    await writeFile(join(daemon.data, 'backups', 'cut.tar'), bytes.subarray(0, bytes.length / 3));
    await writeFile(join(daemon.data, 'backups', 'junk.tar'), randomBytes(5000));
    const before = await snapshotOf(daemon, 'shop');
    for (const [file, code] of [
      ['damaged.tar', 'BACKUP_INVALID'],
      ['cut.tar', 'BACKUP_INVALID'],
      ['junk.tar', 'BACKUP_INVALID'],
      ['nothing-here.tar', 'BACKUP_NOT_FOUND'],
    ] as const) {
      const refused = await cli([
        'backup',
        'restore',
        file,
        '--into',
        'shop',
        '--data',
        daemon.data,
      ]);
      assert.equal(refused.code, 1, file);
      assert.match(refused.stderr, new RegExp(`^error ${code}: `), file);
    }
    assert.deepEqual(await snapshotOf(daemon, 'shop'), before);
    assert.deepEqual(await filesOf(dataDirOf(daemon, 'shop')), originalFiles);
  });

  test('an archive of another app is refused for an instance of that app', async () => {
    const { daemon } = running;
    await installEcho(daemon.data, '--id', 'echo2');
    await waitForApp(daemon, 'echo2');
    const created = await cli(['instance', 'create', 'echo2', 'other', '--data', daemon.data]);
    assert.equal(created.code, 0, created.stderr);
    await waitForInstance(daemon, 'other');
    const refused = await cli([
      'backup',
      'restore',
      archive,
      '--into',
      'other',
      '--data',
      daemon.data,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error BACKUP_APP_MISMATCH: .*echo2/);
    const unknown = await api(daemon, 'POST', '/backups/restore', { archive, into: 'nobody' });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as { code: string }).code, 'INSTANCE_NOT_FOUND');
  });

  test('templates: ## and unknown parameters; rolling slots wrap', async () => {
    const { daemon } = running;
    const bad = await cli([
      'backup',
      'create',
      'shop',
      '--template',
      '#A/#q.tar',
      '--data',
      daemon.data,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error TEMPLATE_INVALID: /);
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const made = await api(daemon, 'POST', '/backups', {
        instance: 'shop',
        template: 'rolling/##-#I-#bn.tar',
        slots: 3,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      names.push((made.body as BackupEntry).file);
    }
    assert.deepEqual(names, [
      'rolling/#-shop-0.tar',
      'rolling/#-shop-1.tar',
      'rolling/#-shop-2.tar',
      'rolling/#-shop-0.tar',
    ]);
  });

  test('the schedule is validated, stored and shown', async () => {
    const { daemon } = running;
    const bad = await cli(['backup', 'schedule', '--cron', 'every day', '--data', daemon.data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error BAD_REQUEST: /);
    const set = await cli([
      'backup',
      'schedule',
      '--cron',
      '0 3 * * *',
      '--template',
      '#A/#I-#bn.tar',
      '--slots',
      '7',
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(set.code, 0, set.stderr);
    const schedule = JSON.parse(set.stdout) as { cron: string; slots: number; nextRun: string };
    assert.equal(schedule.cron, '0 3 * * *');
    assert.equal(schedule.slots, 7);
    assert.match(schedule.nextRun, /T03:00:00/);
    const off = await cli(['backup', 'schedule', '--off', '--json', '--data', daemon.data]);
    assert.equal((JSON.parse(off.stdout) as { cron: null }).cron, null);
  });

  test('scheduled runs skip excluded instances and keep the newest N archives', async () => {
    const { daemon } = running;
    for (const id of ['shop', 'shop2', 'shop3']) {
      const excluded = await cli([
        'instance',
        'set',
        id,
        '--exclude-from-backup',
        'on',
        '--data',
        daemon.data,
      ]);
      assert.equal(excluded.code, 0, excluded.stderr);
    }
    const folder = join(daemon.data, 'backups', 'kept');
    // Every second (croner takes a seconds field); a run still going is not started twice.
    const set = await cli([
      'backup',
      'schedule',
      '--cron',
      '* * * * * *',
      '--template',
      'kept/#A-#I-#d.tar',
      '--keep',
      '2',
      '--data',
      daemon.data,
    ]);
    assert.equal(set.code, 0, set.stderr);
    try {
      const made = async () => {
        const answer = await api(daemon, 'GET', '/events?limit=1000');
        const events = (answer.body as { events: { kind: string; subject: string }[] }).events;
        return events.filter((e) => e.kind === 'backup.created' && e.subject === 'other').length;
      };
      const start = await made();
      for (let i = 0; i < 200 && (await made()) < start + 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok((await made()) >= start + 4, 'four scheduled backups ran');
    } finally {
      await cli(['backup', 'schedule', '--off', '--data', daemon.data]);
    }
    // A run in flight when the schedule went off finishes and prunes too.
    const files = await eventually(
      async () => {
        const names = await readdir(folder);
        return names.length === 2 ? names : undefined;
      },
      10_000,
      'two archives kept',
    );
    assert.ok(
      files.every((name) => name.startsWith('echo2-other-')),
      files.join(' '),
    );
    for (const id of ['shop', 'shop2', 'shop3']) {
      const excluded = await cli([
        'instance',
        'set',
        id,
        '--exclude-from-backup',
        'off',
        '--data',
        daemon.data,
      ]);
      assert.equal(excluded.code, 0, excluded.stderr);
    }
  });

  test('status tells whether pg_dump works', async () => {
    const { daemon } = running;
    const shown = await cli(['status', '--json', '--data', daemon.data]);
    const report = JSON.parse(shown.stdout) as StatusReport;
    assert.match(report.backup.version ?? '', /^pg_dump \(PostgreSQL\) 18\./);
    assert.equal(report.backup.error, null);
  });

  test('the API names the field an error concerns, for forms to show it there', async () => {
    const { daemon } = running;
    const failure = async (method: string, path: string, body: unknown) => {
      const answer = await api(daemon, method, path, body);
      const { code, field } = answer.body as ErrorBody;
      return [code, field];
    };
    assert.deepEqual(
      await failure('POST', '/backups', { instance: 'shop', template: '#A/#q.tar' }),
      ['TEMPLATE_INVALID', 'template'],
    );
    assert.deepEqual(await failure('POST', '/backups', { instance: 'nobody' }), [
      'INSTANCE_NOT_FOUND',
      'instance',
    ]);
    assert.deepEqual(
      await failure('POST', '/backups/restore', {
        archive: 'secret/shop.tar',
        as: 'shop9',
        passphrase: 'not the passphrase',
      }),
      ['PASSPHRASE_WRONG', 'passphrase'],
    );
    assert.deepEqual(await failure('POST', '/backups/restore', { archive, into: 'other' }), [
      'BACKUP_APP_MISMATCH',
      'into',
    ]);
    assert.deepEqual(await failure('POST', '/backups/restore', { archive, into: 'nobody' }), [
      'INSTANCE_NOT_FOUND',
      'into',
    ]);
    assert.deepEqual(await failure('POST', '/backups/restore', { archive, as: 'shop' }), [
      'INSTANCE_EXISTS',
      'as',
    ]);
    assert.deepEqual(await failure('PUT', '/backups/schedule', { cron: 'every day' }), [
      'BAD_REQUEST',
      'cron',
    ]);
    assert.deepEqual(await failure('PUT', '/backups/schedule', { template: '../out.tar' }), [
      'TEMPLATE_INVALID',
      'template',
    ]);
    assert.equal((await api(daemon, 'GET', '/instances/shop9')).status, 404, 'no clone left');
  });

  test('a failed backup raises backup-failed, leaves no file, and the next success clears it', async () => {
    const { daemon } = running;
    const before = (await readdir(join(daemon.data, 'backups', 'echo'))).sort();
    // A table the instance's role may not read (the superuser's): the dump, made as that
    // role, fails.
    const creds = await credentials(daemon, 'shop');
    const { storeClient } = await import('../helpers/database.js');
    const admin = await storeClient(daemon, creds.user);
    await admin.query('CREATE TABLE not_for_the_role (x int)');
    try {
      const failed = await cli(['backup', 'create', 'shop', '--data', daemon.data]);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /^error BACKUP_FAILED: /);
      assert.doesNotMatch(failed.stderr, new RegExp(creds.password));
      const alarms = await activeAlarms(daemon);
      assert.ok(alarms.some((a) => a.code === 'backup-failed' && a.subject === 'shop'));
      assert.deepEqual((await readdir(join(daemon.data, 'backups', 'echo'))).sort(), before);
      assert.equal(existsSync(join(daemon.data, 'backups', '.work')), true);
      assert.deepEqual(await readdir(join(daemon.data, 'backups', '.work')), []);
    } finally {
      await admin.query('DROP TABLE not_for_the_role');
      await admin.end();
    }
    const ok = await cli(['backup', 'create', 'shop', '--data', daemon.data]);
    assert.equal(ok.code, 0, ok.stderr);
    const alarms = await activeAlarms(daemon);
    assert.ok(!alarms.some((a) => a.code === 'backup-failed'));
  });
});

/** Fills the instance's folder with incompressible bytes, so its archive is about that big. */
async function addBulk(daemon: Daemon, id: string, bytes: number): Promise<void> {
  await writeFile(join(dataDirOf(daemon, id), 'bulk.bin'), randomBytes(bytes));
}

describe('backups when things go wrong', () => {
  test('kill -9 during a backup: no archive under its final name, earlier ones intact', async (t) => {
    const data = await makeTemp();
    let daemon = await startDaemon({ data });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
    });
    await echoWithInstance(daemon, 'crash');
    const first = await cli(['backup', 'create', 'crash', '--json', '--data', data]);
    assert.equal(first.code, 0, first.stderr);
    const kept = JSON.parse(first.stdout) as BackupEntry;
    const keptBytes = await readFile(join(data, 'backups', kept.file));
    await addBulk(daemon, 'crash', 150_000_000);

    const work = join(data, 'backups', '.work');
    const running = cli(['backup', 'create', 'crash', '--data', data]);
    // Kill once the backup has started writing its work files.
    for (let i = 0; i < 600; i++) {
      const inside = await readdir(work).catch(() => []);
      if (inside.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    assert.notEqual((await running).code, 0, 'the backup did not finish');
    await killAll(data);

    daemon = await startDaemon({ data });
    const files = await readdir(join(data, 'backups', 'echo'));
    assert.deepEqual(files, [kept.file.split('/')[1]], 'only the earlier archive');
    assert.deepEqual(await readFile(join(data, 'backups', kept.file)), keptBytes);
    assert.deepEqual(await readdir(work).catch(() => []), [], 'work files removed at start');
  });

  test('a full disk during a backup: alarm, no partial archive, earlier ones intact', async (t) => {
    const data = await makeTemp();
    const target = await makeTemp();
    if (!mountTmpfs(target, '4m', '0700')) {
      t.skip('mounting a tmpfs needs root');
      return;
    }
    const daemon = await startDaemon({ data, env: { APPVISOR_BACKUP_FOLDER: target } });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await unmountTmpfs(target);
    });
    await echoWithInstance(daemon, 'full');
    const first = await cli(['backup', 'create', 'full', '--json', '--data', data]);
    assert.equal(first.code, 0, first.stderr);
    const kept = JSON.parse(first.stdout) as BackupEntry;
    const keptBytes = await readFile(join(target, kept.file));

    await addBulk(daemon, 'full', 8_000_000);
    const failed = await cli(['backup', 'create', 'full', '--data', data]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^error DISK_FULL: .*(ENOSPC|no space)/i);
    const alarms = await activeAlarms(daemon);
    assert.ok(alarms.some((a) => a.code === 'backup-failed' && a.subject === 'full'));
    assert.deepEqual(await readdir(join(target, 'echo')), [kept.file.split('/')[1]]);
    assert.deepEqual(await readFile(join(target, kept.file)), keptBytes);
    assert.deepEqual(await readdir(join(target, '.work')), []);
    // The manager still answers.
    assert.equal((await cli(['status', '--data', data])).code, 0);
  });

  test('installing a new version of an app backs its instances up first', async (t) => {
    const data = await makeTemp();
    const daemon = await startDaemon({ data });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
    });
    await echoWithInstance(daemon, 'upd');
    const before = await cli(['backup', 'list', '--instance', 'upd', '--json', '--data', data]);
    assert.deepEqual(JSON.parse(before.stdout), []);
    await installEcho(data);
    const after = await cli(['backup', 'list', '--instance', 'upd', '--json', '--data', data]);
    const entries = JSON.parse(after.stdout) as BackupEntry[];
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.app, 'echo');
    await waitForInstance(daemon, 'upd');
  });
});
