/**
 * examples/notes-ts, built by `npm run build` into an app package, installed on a real daemon:
 * an instance migrates its database, answers through the front, and pushes notes to a
 * WebSocket client that logged in with the instance password.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { connectAppWebsocket } from '../../src/sdk/testing/index.js';
import {
  cli,
  createInstance,
  eventually,
  http,
  passwordOf,
  repoRoot,
  waitForApp,
  withDaemon,
} from '../helpers/daemon.js';

const packageFolder = join(repoRoot, 'examples', 'notes-ts', 'dist', 'notes-ts');

describe('the TypeScript example app on a real daemon', () => {
  const running = withDaemon();

  before(async () => {
    const { daemon } = running;
    const installed = await cli([
      'app',
      'install',
      packageFolder,
      '--autostart',
      '--data',
      daemon.data,
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    await waitForApp(daemon, 'notes-ts');
    await createInstance(daemon, 'notes-ts', 'team', '--domain', 'example.com');
  });

  test('notes go in over HTTP and out over the WebSocket, through the front', async () => {
    const { daemon } = running;
    const base = `${daemon.httpUrl.replace(/^http/, 'ws')}/example.com/team/`;
    const client = await connectAppWebsocket(base);
    try {
      const login = await client.login(await passwordOf(daemon, 'team'));
      assert.equal(login.mt, 'AppLoginResult');
      assert.notEqual(login.ok, false, JSON.stringify(login));

      const posted = await http('POST', { url: daemon.httpUrl }, '/example.com/team/api/notes', {
        body: { text: 'from the integration test' },
      });
      assert.equal(posted.status, 201, posted.text);
      const pushed = await client.next();
      assert.equal(pushed.mt, 'NoteAdded');
      assert.equal((pushed.note as { text: string }).text, 'from the integration test');

      const listed = await http('GET', { url: daemon.httpUrl }, '/example.com/team/api/notes');
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(
        (listed.body as { text: string }[]).map((note) => note.text),
        ['from the integration test'],
      );
    } finally {
      await client.close();
    }
  });

  test('the migration ran before the instance was ready, and says so in the app log', async () => {
    const { daemon } = running;
    const line = await eventually(async () => {
      const log = await cli(['logs', 'notes-ts', '--data', daemon.data]);
      return /database schema 0 -> 1/.exec(log.stdout)?.[0];
    }, 10_000);
    assert.equal(line, 'database schema 0 -> 1');
  });
});
