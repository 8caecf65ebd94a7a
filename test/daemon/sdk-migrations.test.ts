/**
 * SDK migrations with the real daemon and PostgreSQL: an update that adds a column migrates
 * every instance before it is ready; an update whose migration fails leaves the database as it
 * was and the instance failed with the migration's error; an older app on newer data refuses.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { before, describe, test } from 'node:test';
import { makeAppFolder } from '../helpers/apps.js';
import {
  brokenMigration,
  notesPriority,
  notesTable,
  type NotesMigration,
} from '../helpers/notes-app.js';
import {
  activeAlarms,
  api,
  binPath,
  cleanEnv,
  cliOk,
  cloneInstance,
  createInstance,
  eventually,
  http,
  instanceView,
  makeTemp,
  waitForApp,
  waitForInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

type Step = NotesMigration;

const create = notesTable;
const priority = notesPriority;
const broken = brokenMigration(3);

/** The notes app at `version` with these migrations: POST adds a note, GET shows the table. */
function notesMain(migrations: Step[]): string {
  return `const { createService } = await import(process.env.APPVISOR_SDK);
createService({
  migrations: ${JSON.stringify(migrations)},
  start: (instance) => (instance.log('start'), {
    async http(request, response) {
      if (request.method === 'POST') await instance.db.query("INSERT INTO notes (text) VALUES ('first')");
      const notes = await instance.db.query('SELECT * FROM notes ORDER BY id');
      const versions = await instance.db.query('SELECT version FROM appvisor_migrations ORDER BY version');
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ notes: notes.rows, versions: versions.rows.map((r) => r.version) }));
    },
  }),
});
`;
}

async function notesFolder(version: string, migrations: Step[]): Promise<string> {
  return makeAppFolder(await makeTemp(), 'notes', {
    run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.mjs"',
    manifest: { version, instances: true },
    files: { 'main.mjs': notesMain(migrations) },
  });
}

async function install(daemon: Daemon, version: string, migrations: Step[]): Promise<void> {
  await cliOk(daemon, 'app', 'install', await notesFolder(version, migrations), '--autostart');
  await waitForApp(daemon, 'notes');
}

/**
 * Installs over the stopped app and starts it then: no update to wait for and roll back (an
 * install over the running app would put the previous version back), so the instance's own
 * failure stays to be seen.
 */
async function installStopped(daemon: Daemon, version: string, migrations: Step[]) {
  await cliOk(daemon, 'app', 'stop', 'notes');
  const folder = await notesFolder(version, migrations);
  await cliOk(daemon, 'app', 'install', folder, '--no-autostart');
  await cliOk(daemon, 'app', 'start', 'notes');
}

async function notes(daemon: Daemon, method = 'GET') {
  const answer = await http(method, { url: daemon.httpUrl }, '/n1/notes');
  assert.equal(answer.status, 200, answer.text);
  return answer.body as { notes: Record<string, unknown>[]; versions: number[] };
}

async function failedWith(daemon: Daemon, pattern: RegExp): Promise<void> {
  const view = await eventually(
    async () => {
      const found = await instanceView(daemon, 'n1');
      return found.state === 'failed' ? found : undefined;
    },
    30_000,
    'n1 failed',
  );
  assert.match(view.error ?? '', pattern);
}

describe('SDK migrations', () => {
  const running = withDaemon();

  before(async () => {
    const { daemon } = running;
    await install(daemon, '1.0.0', [create]);
    await createInstance(daemon, 'notes', 'n1', '--path', '/n1');
  });

  test('a new instance is at the latest version before it is ready', async () => {
    const { daemon } = running;
    const first = await notes(daemon, 'POST');
    assert.deepEqual(first.versions, [1]);
    assert.deepEqual(first.notes, [{ id: 1, text: 'first' }]);
  });

  test('an update adds its column to the existing data, says so in the log and the events', async () => {
    const { daemon } = running;
    // `appvisor events --follow` shows it as it happens.
    const follow = spawn(
      process.execPath,
      [binPath, 'events', '--follow', '-n', '1', '--json', '--data', daemon.data],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: follow.stdout });
    const seen = new Promise<{ kind: string; subject: string; text: string }>((resolve) => {
      lines.on('line', (line) => {
        const event = JSON.parse(line) as { kind: string; subject: string; text: string };
        if (event.text.includes('database schema 1 -> 2')) resolve(event);
      });
    });
    await install(daemon, '1.1.0', [create, priority]);
    await waitForInstance(daemon, 'n1');
    const after = await notes(daemon);
    assert.deepEqual(after.versions, [1, 2]);
    assert.deepEqual(after.notes, [{ id: 1, text: 'first', priority: 0 }]);
    const events = (await api(daemon, 'GET', '/events?limit=200')).body as {
      events: { kind: string; text: string }[];
    };
    assert.ok(
      events.events.some((e) => /database schema 1 -> 2 \(migrations 2,/.test(e.text)),
      JSON.stringify(events.events.slice(0, 5)),
    );
    try {
      const followed = await Promise.race([
        seen,
        new Promise<never>((_, reject) =>
          setTimeout(() => {
            reject(new Error('events --follow showed no migration'));
          }, 10_000).unref(),
        ),
      ]);
      assert.equal(followed.subject, 'n1');
    } finally {
      follow.kill();
    }
    // Without --follow: the last ones, oldest first, one line each.
    const text = await cliOk(daemon, 'events', '-n', '50');
    const last = text.trimEnd().split('\n');
    assert.ok(last.length > 3 && last.length <= 50, text);
    assert.ok(
      last.some((line) => /info +\S+ n1: database schema 1 -> 2/.test(line)),
      text,
    );
    assert.ok(last[0]! <= last.at(-1)!, 'oldest first');
  });

  test('a failing migration fails the instance with its error and changes nothing', async () => {
    const { daemon } = running;
    await installStopped(daemon, '1.2.0', [create, priority, broken]);
    await failedWith(daemon, /migration 3 \(add-done\) failed: division by zero/);
    const raised = await eventually(async () =>
      (await activeAlarms(daemon)).find((a) => a.code === 'instance-failed' && a.subject === 'n1'),
    );
    assert.equal(raised.severity, 'error');
    assert.match(raised.text, /migration 3 \(add-done\) failed/);
    // Back to 1.1.0: its data and schema as they were, no `done` column.
    await install(daemon, '1.1.0', [create, priority]);
    await waitForInstance(daemon, 'n1');
    await eventually(async () =>
      (await activeAlarms(daemon)).some((a) => a.code === 'instance-failed') ? undefined : true,
    );
    const after = await notes(daemon);
    assert.deepEqual(after.versions, [1, 2]);
    assert.deepEqual(after.notes, [{ id: 1, text: 'first', priority: 0 }]);
  });

  test('restore --as starts the new instance once, on the restored data', async () => {
    const { daemon } = running;
    const view = await cloneInstance(daemon, 'n1', 'n2');
    const answer = await http('GET', { url: daemon.httpUrl }, `${view.path}/notes`);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual((answer.body as { versions: number[] }).versions, [1, 2]);
    const log = await readFile(join(daemon.data, 'logs', 'notes.log'), 'utf8');
    assert.equal(log.match(/\[n2\] start$/gm)?.length, 1, log);
    // Its data came with its schema version: nothing to migrate.
    assert.doesNotMatch(log, /\[n2\] database schema/);
  });

  test('an older app on newer data refuses to start the instance', async () => {
    const { daemon } = running;
    await installStopped(daemon, '1.0.0', [create]);
    await failedWith(daemon, /schema version 2, newer than this app's latest migration 1/);
  });
});
