/**
 * The notes service under the appvisor test kit: a throwaway PostgreSQL, two fake instances,
 * requests without sockets, and a WebSocket client that logs in as a PBX would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as sdk from 'appvisor/sdk';
import { startTestKit, type TestKit } from 'appvisor/sdk/testing';
import { notesService, type Note } from '../src/notes.js';

describe('notes', { timeout: 120_000 }, () => {
  let kit: TestKit;
  before(async () => {
    kit = await startTestKit(notesService(sdk));
  });
  after(async () => {
    await kit.close();
  });

  it('keeps the notes of each instance in its own database', async () => {
    const acme = await kit.startInstance({ id: 'acme' });
    const other = await kit.startInstance({ id: 'other' });
    const created = await kit.request(acme, {
      method: 'POST',
      path: '/api/notes',
      body: { text: ' call Bob ' },
    });
    assert.equal(created.status, 201, created.body);
    assert.equal((created.json() as Note).text, 'call Bob');
    const listed = (await kit.request(acme, '/api/notes')).json() as Note[];
    assert.deepEqual(
      listed.map((note) => note.text),
      ['call Bob'],
    );
    assert.deepEqual((await kit.request(other, '/api/notes')).json(), []);
  });

  it('refuses a note without text', async () => {
    const instance = await kit.startInstance();
    const refused = await kit.request(instance, {
      method: 'POST',
      path: '/api/notes',
      body: { text: '' },
    });
    assert.equal(refused.status, 400);
    assert.equal((refused.json() as { code: string }).code, 'BAD_REQUEST');
    assert.deepEqual((await kit.request(instance, '/api/notes')).json(), []);
  });

  it('answers unknown paths 404 and other methods 405 with Allow', async () => {
    const instance = await kit.startInstance();
    assert.equal((await kit.request(instance, '/api/nothing')).status, 404);
    const wrong = await kit.request(instance, { method: 'DELETE', path: '/api/notes' });
    assert.equal(wrong.status, 405);
    assert.match(String(wrong.headers.allow), /GET/);
    assert.match(String(wrong.headers.allow), /POST/);
  });

  it('pushes new notes to logged-in WebSocket clients, and adds notes sent over it', async () => {
    const instance = await kit.startInstance();
    const watcher = await kit.websocket(instance);
    assert.equal((await watcher.login(instance.password)).mt, 'AppLoginResult');
    await kit.request(instance, {
      method: 'POST',
      path: '/api/notes',
      body: { text: 'over HTTP' },
    });
    const pushed = await watcher.next();
    assert.equal(pushed.mt, 'NoteAdded');
    assert.equal((pushed.note as Note).text, 'over HTTP');

    watcher.send({ mt: 'AddNote', text: 'over the socket', src: 'a1' });
    // The sender gets the push and its answer; their order is not promised.
    const answers = [await watcher.next(), await watcher.next()];
    assert.deepEqual(answers.map((answer) => answer.mt).sort(), ['AddNoteResult', 'NoteAdded']);
    const listed = (await kit.request(instance, '/api/notes')).json() as Note[];
    assert.deepEqual(
      listed.map((note) => note.text),
      ['over HTTP', 'over the socket'],
    );
  });

  it('pushes nothing to a client that failed to log in', async () => {
    const instance = await kit.startInstance();
    const watcher = await kit.websocket(instance);
    assert.equal((await watcher.login(instance.password)).mt, 'AppLoginResult');
    const intruder = await kit.websocket(instance);
    assert.equal((await intruder.login('guessed')).ok, false);
    await kit.request(instance, { method: 'POST', path: '/api/notes', body: { text: 'secret' } });
    // Pushes go out to every session at once: once the watcher has it, the intruder would too.
    assert.equal((await watcher.next()).mt, 'NoteAdded');
    await assert.rejects(intruder.next(200), /no message/);
  });
});
