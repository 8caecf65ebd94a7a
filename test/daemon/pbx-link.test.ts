/**
 * Linking an instance with a PBX App object (issue 20 part 4): the App-object URL, the domain
 * and the database user next to the password in `instance show` and the API; rotating the
 * instance's database password while the instance keeps serving.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type pg from 'pg';
import type { InstanceView } from '../../src/api/index.js';
import { connectAs, credentials, storeClient } from '../helpers/database.js';
import {
  api,
  cli,
  echoWithInstance,
  http,
  instanceView,
  waitForInstance,
  withDaemon,
  type Daemon,
  cliOk,
} from '../helpers/daemon.js';

/** One hit on the echo instance through the front: its counter, kept in its database. */
async function hit(daemon: Daemon, path: string): Promise<number> {
  const answer = await http('POST', { url: daemon.httpUrl }, `${path}/count`);
  assert.equal(answer.status, 200, `a hit on ${path}: ${answer.status} ${answer.text}`);
  return (answer.body as { count: number }).count;
}

/** Logging in with `creds` fails with PostgreSQL's "password authentication failed" (28P01). */
async function refused(creds: { user: string; password: string; port: number }): Promise<void> {
  await assert.rejects(connectAs(creds, creds.user), (error: { code?: string }) => {
    assert.equal(error.code, '28P01');
    return true;
  });
}

/** Ends every connection of the instance's role but `keep` (the superuser's view). */
async function dropConnections(daemon: Daemon, role: string, keep: number): Promise<number> {
  const client = await storeClient(daemon, 'postgres');
  try {
    const ended = await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> $2',
      [role, keep],
    );
    return ended.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

describe('linking an instance with a PBX', () => {
  const running = withDaemon();

  before(async () => {
    await echoWithInstance(running.daemon, 'link');
  });

  test('instance show: the App-object URL and domain next to the password, the database user', async () => {
    const { daemon } = running;
    // No DNS name set: the instance's domain stands in.
    const text = await cliOk(daemon, 'instance', 'show', 'link', '--reveal-password');
    const password = /^password\s+(\S+)$/m.exec(text)?.[1];
    assert.ok(password, text);
    assert.match(text, /^app object url\s+https:\/\/example\.com\/example\.com\/link$/m);
    assert.match(text, /^websocket url\s+wss:\/\/example\.com\/example\.com\/link$/m);
    assert.match(text, /^dns name\s+example\.com \(the instance's domain: no DNS name is set/m);
    assert.match(text, /^database user\s+i_link$/m);
    const lines = text.split('\n').map((line) => line.split(/\s{2,}/)[0]);
    assert.deepEqual(
      lines.slice(lines.indexOf('domain'), lines.indexOf('password') + 1),
      ['domain', 'app object url', 'websocket url', 'dns name', 'password'],
      'the link is shown together, the password right after it',
    );

    await cliOk(daemon, 'settings', 'set', '--dns-name', 'Apps.Example.org');
    const json = JSON.parse(
      await cliOk(daemon, 'instance', 'show', 'link', '--json'),
    ) as InstanceView;
    assert.deepEqual(json.link, {
      url: 'https://apps.example.org/example.com/link',
      websocketUrl: 'wss://apps.example.org/example.com/link',
      dnsName: 'apps.example.org',
      dnsNameFrom: 'settings',
      domain: 'example.com',
    });
    assert.equal(json.databaseUser, 'i_link');
    assert.equal(json.password, undefined, 'no password unless asked');

    const shown = await api(daemon, 'GET', '/instances/link');
    assert.equal(shown.status, 200);
    assert.deepEqual((shown.body as InstanceView).link, json.link);
    // The list stays as it was: the link is for one instance.
    const listed = (await api(daemon, 'GET', '/instances')).body as { instances: InstanceView[] };
    assert.equal(listed.instances[0]!.link, undefined);
    assert.equal(listed.instances[0]!.databaseUser, 'i_link');
    await cliOk(daemon, 'settings', 'set', '--dns-name', '');
  });

  test('--db-password: a new role password; the instance keeps serving, the old one is refused', async () => {
    const { daemon } = running;
    const before = await waitForInstance(daemon, 'link');
    const old = await credentials(daemon, 'link');
    const counted = await hit(daemon, '/example.com/link');
    // A connection opened before the rotation, as an app's pooled one would be.
    const open: pg.Client = await connectAs(old, old.user);
    const openPid = (await open.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
    try {
      const done = await cli(['instance', 'set', 'link', '--db-password', '--data', daemon.data]);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /^database password\s+replaced/m);

      const now = await credentials(daemon, 'link');
      assert.equal(now.user, old.user);
      assert.notEqual(now.password, old.password);
      assert.match(now.password, /^[A-Za-z0-9_-]{24,}$/, 'a generated password (≥ 144 bits)');
      assert.ok(!done.stdout.includes(now.password), 'the database password is never shown');
      await refused(old);
      const fresh = await connectAs(now, now.user);
      await fresh.end();

      // Open connections keep working.
      assert.equal((await open.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
      // The service got the new password: with every connection it had gone, it connects anew.
      await dropConnections(daemon, old.user, openPid);
      assert.equal(await hit(daemon, '/example.com/link'), counted + 1);
      assert.equal(await hit(daemon, '/example.com/link'), counted + 2);
      const after = await instanceView(daemon, 'link');
      assert.equal(after.state, 'ready');
      assert.equal(after.since, before.since, 'the instance was not restarted');
    } finally {
      await open.end();
    }

    // A restart of the service starts the instance with the stored (new) password.
    await cliOk(daemon, 'app', 'restart', 'echo');
    await waitForInstance(daemon, 'link');
    assert.equal(await hit(daemon, '/example.com/link'), counted + 3);
    await refused(old);
  });

  test('a rotation that cannot be stored changes nothing; an unknown instance is refused', async () => {
    const { daemon } = running;
    await cliOk(daemon, 'instance', 'create', 'echo', 'other', '--domain', 'example.com');
    await waitForInstance(daemon, 'other');
    const old = await credentials(daemon, 'link');
    const taken = await api(daemon, 'PATCH', '/instances/link', {
      path: '/example.com/other',
      rotateDbPassword: true,
    });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.equal((taken.body as { code: string }).code, 'PATH_TAKEN');
    assert.deepEqual(await credentials(daemon, 'link'), old, 'the stored password is the same');
    const still = await connectAs(old, old.user);
    await still.end();
    assert.equal((await instanceView(daemon, 'link')).path, '/example.com/link');
    const count = await hit(daemon, '/example.com/link');
    assert.ok(count > 0);

    const unknown = await cli([
      'instance',
      'set',
      'nobody',
      '--db-password',
      '--data',
      daemon.data,
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error INSTANCE_NOT_FOUND: /);
    const wrongType = await api(daemon, 'PATCH', '/instances/link', { rotateDbPassword: 'yes' });
    assert.equal(wrongType.status, 400);
  });
});
