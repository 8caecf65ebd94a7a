/**
 * The notes journey of a new app author (issue 21), with the real daemon: install a "notes" app
 * with a migration, two instances, notes over HTTP, a live push over the AppWebsocket-logged-in
 * WebSocket, a trace flag, the static page, a backup cloned with `restore --as`; then an
 * `app install` of a version whose migration fails on every instance, which must not pass as a
 * success: the CLI fails with UPDATE_FAILED, the alarm `update-failed` is raised, the previous
 * version runs again with every instance's notes; then a good version migrates the data.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { connectAppWebsocket as connect } from '../../src/sdk/testing/index.js';
import {
  activeAlarms,
  appStatus,
  cli,
  cliOk,
  cloneInstance,
  createInstance,
  eventually,
  http,
  instanceView,
  makeTemp,
  passwordOf,
  waitForApp,
  waitForInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import {
  brokenMigration,
  notesApp,
  notesPriority,
  notesTable,
  type NotesMigration,
} from '../helpers/notes-app.js';

// Fails on every instance.
const brokenDone = brokenMigration(2);

interface Notes {
  notes: Record<string, unknown>[];
  versions: number[];
}

async function notesOf(daemon: Daemon, path: string): Promise<Notes> {
  const answer = await http('GET', { url: daemon.httpUrl }, `${path}/notes`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body as Notes;
}

async function addNote(daemon: Daemon, path: string, text: string): Promise<void> {
  const answer = await http('POST', { url: daemon.httpUrl }, `${path}/notes`, { body: { text } });
  assert.equal(answer.status, 201, answer.text);
}

/** `app install` of the notes app at `version`, as the author types it. */
async function installNotes(daemon: Daemon, version: string, migrations: NotesMigration[]) {
  const folder = await notesApp(await makeTemp(), version, migrations);
  return cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
}

describe('the notes journey', () => {
  const running = withDaemon();
  /** Every instance's path, and what its notes are before the updates. */
  const paths = new Map<string, string>();
  const written = new Map<string, string[]>();

  before(async () => {
    const { daemon } = running;
    const installed = await installNotes(daemon, '1.0.0', [notesTable]);
    assert.equal(installed.code, 0, installed.stderr);
    await waitForApp(daemon, 'notes');
    for (const id of ['n1', 'n2']) {
      await createInstance(daemon, 'notes', id, '--path', `/${id}`);
      paths.set(id, `/${id}`);
    }
  });

  test('notes over HTTP, a live push over the WebSocket, a trace flag, the static page', async () => {
    const { daemon } = running;
    await cliOk(daemon, 'instance', 'trace', 'n1', '+notes');
    const client = await connect(`${daemon.httpUrl.replace(/^http/, 'ws')}/n1/ws`);
    try {
      const login = await client.login(await passwordOf(daemon, 'n1'));
      assert.equal(login.ok, true, JSON.stringify(login));
      await addNote(daemon, '/n1', 'buy milk');
      const pushed = await client.next(10_000);
      assert.equal(pushed.mt, 'NoteAdded');
      assert.deepEqual(pushed.note, { id: 1, text: 'buy milk' });
    } finally {
      client.ws.close();
    }
    await addNote(daemon, '/n1', 'call Bob');
    await addNote(daemon, '/n2', 'other instance');
    written.set('n1', ['buy milk', 'call Bob']);
    written.set('n2', ['other instance']);
    for (const [id, texts] of written) {
      const shown = await notesOf(daemon, `/${id}`);
      assert.deepEqual(
        shown.notes.map((note) => note.text),
        texts,
      );
      assert.deepEqual(shown.versions, [1]);
    }
    const log = await readFile(join(daemon.data, 'logs', 'notes.log'), 'utf8');
    assert.match(log, /\[n1\] notes: added 1 buy milk/);
    // n2's flag is off: its note is not traced.
    assert.doesNotMatch(log, /\[n2\] notes: added/);
    const page = await http('GET', { url: daemon.httpUrl }, '/n1/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>Notes 1\.0\.0<\/title>/);
  });

  test('a backup of an instance, cloned with restore --as, has its notes', async () => {
    const { daemon } = running;
    const view = await cloneInstance(daemon, 'n1', 'n1copy');
    paths.set('n1copy', view.path);
    written.set('n1copy', written.get('n1')!);
    const cloned = await notesOf(daemon, view.path);
    assert.deepEqual(
      cloned.notes.map((note) => note.text),
      ['buy milk', 'call Bob'],
    );
  });

  test('an app install whose migration fails everywhere fails, alarms and rolls back', async () => {
    const { daemon } = running;
    const update = await installNotes(daemon, '2.0.0', [notesTable, brokenDone]);
    assert.equal(update.code, 1, update.stdout);
    assert.match(
      update.stderr,
      /error UPDATE_FAILED: notes 2\.0\.0 did not get ready: instance\(s\) .*migration 2 \(add-done\) failed: division by zero.*rolled back to 1\.0\.0/,
    );
    assert.doesNotMatch(update.stdout, /installed notes 2\.0\.0/);
    const alarm = (await activeAlarms(daemon)).find(
      (a) => a.code === 'update-failed' && a.subject === 'notes',
    );
    assert.ok(alarm, 'update-failed is raised');
    assert.match(await cliOk(daemon, 'alarms'), /update-failed +notes +notes 2\.0\.0 did not/);
    const status = await appStatus(daemon, 'notes');
    assert.deepEqual([status.version, status.state], ['1.0.0', 'running']);
    for (const [id, texts] of written) {
      const view = await waitForInstance(daemon, id);
      assert.equal(view.error ?? null, null);
      const shown = await notesOf(daemon, paths.get(id)!);
      assert.deepEqual(
        shown.notes.map((note) => note.text),
        texts,
        id,
      );
      // The failed migration left nothing: no `done` column, still at schema 1.
      assert.deepEqual(shown.versions, [1]);
      assert.ok(shown.notes.every((note) => !('done' in note)));
    }
    // The instances it failed are ready again: their alarms go.
    await eventually(async () =>
      (await activeAlarms(daemon)).some((a) => a.code === 'instance-failed') ? undefined : true,
    );
  });

  test('a version with a good migration installs, migrates every instance, clears the alarm', async () => {
    const { daemon } = running;
    const update = await installNotes(daemon, '3.0.0', [notesTable, notesPriority]);
    assert.equal(update.code, 0, update.stderr);
    assert.match(update.stdout, /installed notes 3\.0\.0: running/);
    for (const [id, texts] of written) {
      assert.equal((await instanceView(daemon, id)).state, 'ready', id);
      const shown = await notesOf(daemon, paths.get(id)!);
      assert.deepEqual(shown.versions, [1, 2], id);
      assert.deepEqual(
        shown.notes.map((note) => [note.text, note.priority]),
        texts.map((text) => [text, 0]),
        id,
      );
    }
    // Cleared by the update that succeeded.
    const alarms = await activeAlarms(daemon);
    assert.ok(!alarms.some((a) => a.code === 'update-failed'), JSON.stringify(alarms));
    const page = await http('GET', { url: daemon.httpUrl }, '/n2/');
    assert.match(page.text, /<title>Notes 3\.0\.0<\/title>/);
  });
});
