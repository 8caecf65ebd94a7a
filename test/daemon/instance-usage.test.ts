/**
 * What each instance takes on disk (its database and data folder), measured by the real
 * daemon, shown by the CLI, the API and /metrics; `instance vacuum` (plain and full) with its
 * progress, and the progress of a backup and a restore on a terminal; the `instance-large`
 * alarm; and a link planted in a data folder that must not count.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, statfs, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventsReport, InstanceView, VacuumResult } from '../../src/api/index.js';
import {
  activeAlarms,
  cli,
  eventually,
  http,
  instanceView,
  makeTemp,
  nodeServiceWithInstance,
  removeTemp,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { connectAs, credentials } from '../helpers/database.js';
import { find, parseExposition } from '../helpers/prometheus.js';
import { onTerminal, readable } from '../helpers/terminal.js';

const mib = 1024 * 1024;
const api = '/manager/api/v1';

/**
 * The alarm's limit: 40 MiB of the disk the data folder is on (the daemon's data folder is
 * made in the temp folder). An empty instance (its database ~8 MB) stays below it.
 */
const disk = await statfs(tmpdir());
const limitBytes = 40 * mib;
const sharePercent = ((limitBytes / (disk.blocks * disk.bsize)) * 100).toPrecision(6);

/**
 * A service that writes and removes a file of N MiB in the data folder of the instance a
 * request is for: `/<path>/write?mb=N&name=F`, `/<path>/remove?name=F`.
 */
const service = `
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const socket = process.env.APPVISOR_HTTP_SOCKET;
const folders = new Map();
try { fs.unlinkSync(socket); } catch {}
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const folder = folders.get(req.headers['x-appvisor-instance']);
  const file = path.join(folder, url.searchParams.get('name') || 'blob');
  if (url.pathname.endsWith('/write')) {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < Number(url.searchParams.get('mb')); i++) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } else if (url.pathname.endsWith('/remove')) {
    fs.rmSync(file, { force: true });
  }
  res.end('ok');
}).listen(socket, () => process.send({ type: 'ready', httpSocket: socket }));
process.on('message', (m) => {
  if (m.type === 'instance.start') {
    folders.set(m.instance.id, m.instance.dataDir);
    process.send({ type: 'instance.ready', id: m.instance.id });
  } else if (m.type === 'instance.stop') process.send({ type: 'instance.stopped', id: m.id });
  else if (m.type === 'shutdown') process.exit(0);
});
`;

/** A request to the service through the front. */
async function ask(daemon: Daemon, path: string): Promise<void> {
  const answer = await http('GET', { url: daemon.httpUrl }, path);
  assert.equal(answer.status, 200, answer.text);
}

/** Waits for a measurement of `id` taken after `since` that passes `check`. */
async function measuredAfter(
  daemon: Daemon,
  id: string,
  since: number,
  check: (view: InstanceView) => boolean = () => true,
  what = `${id} measured`,
): Promise<InstanceView> {
  return eventually(
    async () => {
      const view = await instanceView(daemon, id);
      const at = view.usage.measuredAt;
      return at !== null && Date.parse(at) > since && check(view) ? view : undefined;
    },
    30_000,
    what,
  );
}

/** Runs SQL in the instance's database as its role (what the app itself can do). */
async function sql(daemon: Daemon, id: string, text: string): Promise<void> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe('instance usage and database care', () => {
  const running = withDaemon({
    args: [
      '--set',
      'monitor.intervalSeconds=1',
      '--set',
      `instances.largeSharePercent=${sharePercent}`,
      // The vacuum waits after listing its tables, a backup and a restore at the end of some
      // phases, so that their progress can be seen.
      '--set',
      'testing.pauses=vacuum.tables=1500,backup.database=800,backup.files=800,restore.database=800',
    ],
  });
  let outside: string;
  const data = () => running.daemon.data;

  before(async () => {
    const { daemon } = running;
    outside = await makeTemp();
    await nodeServiceWithInstance(daemon, 'usage', service, { id: 'big', path: '/big' });
    const small = await cli([
      'instance',
      'create',
      'usage',
      'small',
      '--path',
      '/small',
      '--data',
      daemon.data,
    ]);
    assert.equal(small.code, 0, small.stderr);
  });

  after(async () => {
    if (outside) await removeTemp(outside);
  });

  test('each instance shows its database and folder size, in the API and /metrics', async () => {
    const { daemon } = running;
    const view = await measuredAfter(daemon, 'small', 0);
    assert.ok((view.usage.databaseBytes ?? 0) > 1 * mib, JSON.stringify(view.usage));
    assert.ok((view.usage.filesBytes ?? -1) >= 0, JSON.stringify(view.usage));
    assert.equal(view.usage.filesComplete, true);
    assert.equal(view.vacuum, null);
    const list = await http('GET', { socket: daemon.socket }, `${api}/instances`);
    for (const listed of (list.body as { instances: InstanceView[] }).instances) {
      assert.ok('usage' in listed && 'vacuum' in listed, JSON.stringify(listed));
    }
    await measuredAfter(daemon, 'big', 0);
    // The monitor's next sample has both.
    const samples = await eventually(async () => {
      const metrics = await http('GET', { socket: daemon.socket }, `${api}/metrics`);
      const parsed = parseExposition(metrics.text);
      const measured = find(parsed, 'appvisor_instance_database_bytes');
      return measured.length === 2 ? parsed : undefined;
    });
    for (const instance of ['big', 'small']) {
      const labels = { instance, app: 'usage' };
      assert.ok((find(samples, 'appvisor_instance_database_bytes', labels)[0]?.value ?? 0) > mib);
      assert.equal(find(samples, 'appvisor_instance_files_bytes', labels).length, 1);
      assert.ok(
        (find(samples, 'appvisor_instance_usage_timestamp_seconds', labels)[0]?.value ?? 0) > 0,
      );
    }
  });

  test('instance list shows the sizes and sorts by size', async () => {
    const { daemon } = running;
    // "small" sorts after "big" by id: by size it comes first once it holds a file of 10 MiB.
    await ask(daemon, '/small/write?mb=10&name=some');
    const since = Date.now();
    await measuredAfter(daemon, 'small', since, (v) => (v.usage.filesBytes ?? 0) >= 10 * mib);
    await measuredAfter(daemon, 'big', since);
    const answer = await http('GET', { socket: daemon.socket }, `${api}/instances?sort=size`);
    assert.deepEqual(
      (answer.body as { instances: InstanceView[] }).instances.map((view) => view.id),
      ['small', 'big'],
    );
    const sorted = await cli(['instance', 'list', '--sort', 'size', '--json', '--data', data()]);
    assert.equal(sorted.code, 0, sorted.stderr);
    assert.deepEqual(
      (JSON.parse(sorted.stdout) as InstanceView[]).map((view) => view.id),
      ['small', 'big'],
    );
    const byId = await cli(['instance', 'list', '--json', '--data', data()]);
    assert.deepEqual(
      (JSON.parse(byId.stdout) as InstanceView[]).map((view) => view.id),
      ['big', 'small'],
    );
    const table = await cli(['instance', 'list', '--sort', 'size', '--data', data()]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID +APP +STATE +PATH +ENABLED +DATABASE +FILES$/);
    assert.match(lines[1]!, /^small +usage +ready +\/small +on +\d+\.\d MiB +1\d\.\d MiB$/);
    assert.match(lines[2]!, /^big /);
    assert.match(lines.at(-1)!, /^sizes measured \d+s ago$/);
    const wrong = await cli(['instance', 'list', '--sort', 'weight', '--data', data()]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /error BAD_REQUEST: --sort takes id or size/);
    await ask(daemon, '/small/remove?name=some');
  });

  test('the sizes grow after the app writes rows and a file', async () => {
    const { daemon } = running;
    const before = await measuredAfter(daemon, 'big', Date.now());
    const since = Date.now();
    await sql(
      daemon,
      'big',
      "CREATE TABLE bulk AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 80000) g",
    );
    await ask(daemon, '/big/write?mb=3&name=blob');
    await measuredAfter(
      daemon,
      'big',
      since,
      (view) =>
        (view.usage.databaseBytes ?? 0) > (before.usage.databaseBytes ?? 0) + 10 * mib &&
        (view.usage.filesBytes ?? 0) >= (before.usage.filesBytes ?? 0) + 3 * mib,
      'big grown',
    );
    await measuredAfter(daemon, 'small', since);
    const sorted = await cli(['instance', 'list', '--sort', 'size', '--json', '--data', data()]);
    assert.deepEqual(
      (JSON.parse(sorted.stdout) as InstanceView[]).map((view) => view.id),
      ['big', 'small'],
    );
  });

  test('a link planted in the data folder counts as a link, never as its target', async () => {
    const { daemon } = running;
    const big = join(outside, 'big-file');
    await writeFile(big, Buffer.alloc(64 * mib, 1));
    await mkdir(join(outside, 'folder'));
    await writeFile(join(outside, 'folder', 'inside'), Buffer.alloc(16 * mib, 1));
    const before = await measuredAfter(daemon, 'big', Date.now());
    const folder = before.dataDir;
    await symlink(big, join(folder, 'link-to-file'));
    await symlink(join(outside, 'folder'), join(folder, 'link-to-folder'));
    const since = Date.now();
    const after = await measuredAfter(daemon, 'big', since);
    assert.ok(
      (after.usage.filesBytes ?? 0) < (before.usage.filesBytes ?? 0) + mib,
      `${JSON.stringify(before.usage)} → ${JSON.stringify(after.usage)}`,
    );
    await rm(join(folder, 'link-to-file'));
    await rm(join(folder, 'link-to-folder'));
  });

  test('vacuum works, and --full gives the space of deleted rows back', async () => {
    const { daemon } = running;
    const plain = await cli(['instance', 'vacuum', 'big', '--data', data()]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      /^vacuum of big: \d+ tables in [\d.]+s, database [\d.]+ MiB → [\d.]+ MiB\n$/,
    );
    // Without a terminal: no progress line.
    assert.equal(plain.stderr, '');

    await sql(daemon, 'big', 'DELETE FROM bulk');
    // --json on a terminal: the answer alone, no progress.
    const { code, stdout, stderr } = await onTerminal([
      '--data',
      data(),
      '--json',
      'instance',
      'vacuum',
      'big',
      '--full',
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    const result = JSON.parse(stdout) as VacuumResult;
    assert.equal(result.id, 'big');
    assert.equal(result.full, true);
    assert.ok(result.tables > 10, `${result.tables} tables`);
    assert.ok(
      (result.databaseBytesAfter ?? Infinity) < (result.databaseBytesBefore ?? 0) - 10 * mib,
      `${result.databaseBytesBefore} → ${result.databaseBytesAfter}`,
    );
    assert.equal(result.usage.databaseBytes, result.databaseBytesAfter);
    const view = await instanceView(daemon, 'big');
    assert.ok(
      (view.usage.databaseBytes ?? Infinity) < (result.databaseBytesBefore ?? 0) - 10 * mib,
    );
    assert.equal(view.vacuum, null);

    const events = await http('GET', { socket: daemon.socket }, `${api}/events?limit=50`);
    const vacuumed = (events.body as EventsReport).events.filter(
      (event) => event.kind === 'instance.vacuumed' && event.subject === 'big',
    );
    assert.equal(vacuumed.length, 2, JSON.stringify(vacuumed));
    assert.match(vacuumed[0]!.text, /^VACUUM FULL of instance big: \d+ tables/);
  });

  test('on a terminal the vacuum shows its progress, then only its result', async () => {
    const { code, stdout, stderr } = await onTerminal([
      '--data',
      data(),
      'instance',
      'vacuum',
      'small',
    ]);
    assert.equal(code, 0, stderr);
    // "Erase the line" made readable.
    const lines = readable(stderr);
    assert.match(lines, /\r<erase>\[\d+s\] vacuum of small, table 1\/\d+ /);
    // The line is gone at the end, and stdout has the result alone.
    assert.ok(lines.endsWith('\r<erase>'), JSON.stringify(lines));
    assert.match(stdout, /^vacuum of small: \d+ tables/);
  });

  test('on a terminal a backup and a restore show their phase and bytes, then only their result', async () => {
    await ask(running.daemon, '/small/write?mb=4&name=progress');
    const made = await onTerminal(['--data', data(), 'backup', 'create', 'small']);
    assert.equal(made.code, 0, made.stderr);
    const lines = readable(made.stderr);
    assert.match(lines, /\r<erase>\[\d+s\] backup of small: database [\d.]+ (B|KiB|MiB)/);
    // Its folder holds a file of 4 MiB.
    assert.match(lines, /\r<erase>\[\d+s\] backup of small: files 4\.\d MiB/);
    assert.ok(lines.endsWith('\r<erase>'), JSON.stringify(lines));
    assert.match(made.stdout, /^\S+\.tar \([\d.]+ MiB\)\n$/);
    const file = made.stdout.split(' ')[0] ?? '';

    const restored = await onTerminal([
      '--data',
      data(),
      'backup',
      'restore',
      file,
      '--as',
      'small-copy',
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    const restoring = readable(restored.stderr);
    // The compressed dump replayed, of its size in the archive.
    assert.match(
      restoring,
      /\r<erase>\[\d+s\] restore into small-copy: database [\d.]+ \S+ of [\d.]+ \S+ \(100%\)/,
    );
    assert.ok(restoring.endsWith('\r<erase>'), JSON.stringify(restoring));
    assert.match(restored.stdout, /^restored into small-copy \(\/\S+\/small-copy\)\n$/);

    // Without a terminal, or with --json, the answer alone.
    const plain = await cli(['backup', 'create', 'small', '--data', data()]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stderr, '');
    assert.match(plain.stdout, /^\S+\.tar \([\d.]+ MiB\)\n$/);
    const json = await onTerminal(['--data', data(), '--json', 'backup', 'create', 'small']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '');
    assert.equal((JSON.parse(json.stdout) as { instance: string }).instance, 'small');
    const under = await http('GET', { socket: running.daemon.socket }, `${api}/backups/running`);
    assert.deepEqual(under.body, { operations: [] });
    await ask(running.daemon, '/small/remove?name=progress');
  });

  test('vacuum of an unknown instance is INSTANCE_NOT_FOUND', async () => {
    const answer = await cli(['instance', 'vacuum', 'nobody', '--data', data()]);
    assert.equal(answer.code, 1);
    assert.match(answer.stderr, /^error INSTANCE_NOT_FOUND: /);
    const posted = await http(
      'POST',
      { socket: running.daemon.socket },
      `${api}/instances/nobody/vacuum`,
      {
        body: {},
      },
    );
    assert.equal(posted.status, 404);
    assert.equal((posted.body as { code: string }).code, 'INSTANCE_NOT_FOUND');
  });

  test('instance-large is raised past the share of the disk and cleared when it shrinks', async () => {
    const { daemon } = running;
    const isLarge = async () =>
      (await activeAlarms(daemon)).find((a) => a.code === 'instance-large' && a.subject === 'big');
    assert.equal(await isLarge(), undefined);
    await ask(daemon, '/big/write?mb=48&name=blob');
    const raised = await eventually(isLarge, 30_000, 'instance-large raised');
    assert.equal(raised.severity, 'warning');
    assert.match(
      raised.text,
      /^instance big takes [\d.]+ MiB \(database .*, files .*\), [\d.]+ % of the data folder's disk/,
    );
    assert.equal(
      (await activeAlarms(daemon)).some(
        (a) => a.code === 'instance-large' && a.subject === 'small',
      ),
      false,
    );
    await ask(daemon, '/big/remove?name=blob');
    await eventually(async () => ((await isLarge()) ? undefined : true), 30_000, 'cleared');
  });

  test('a vacuum runs in the instance queue: a delete asked meanwhile waits for it', async () => {
    const { daemon } = running;
    const vacuum = cli(['instance', 'vacuum', 'big', '--data', data()]);
    await eventually(async () =>
      (await instanceView(daemon, 'big')).vacuum?.phase === 'vacuum' ? true : undefined,
    );
    const deleted = await cli(['instance', 'delete', 'big', '--yes', '--data', data()]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const vacuumed = await vacuum;
    assert.equal(vacuumed.code, 0, vacuumed.stderr);
    const events = await http('GET', { socket: daemon.socket }, `${api}/events?limit=20`);
    const kinds = (events.body as EventsReport).events
      .filter((event) => event.subject === 'big' && event.kind.startsWith('instance.'))
      .map((event) => event.kind);
    // Newest first: the delete after the vacuum.
    assert.deepEqual(kinds.slice(0, 2), ['instance.deleted', 'instance.vacuumed']);
    const gone = await cli(['instance', 'vacuum', 'big', '--data', data()]);
    assert.match(gone.stderr, /^error INSTANCE_NOT_FOUND: /);
  });
});
