/**
 * The role an operator makes for the manager on their own PostgreSQL, exactly as
 * docs/install.md says (`LOGIN CREATEDB CREATEROLE`, no superuser), with
 * `createrole_self_grant = 'set'` on top: what it is checked for at start, and the whole life
 * of instances made with it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { SecretBox } from '../../src/lib/secret-box.js';
import {
  cli,
  cliOk,
  echoWithInstance,
  createInstance,
  eventually,
  failingDaemon,
  http,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';
import { ExternalServer, operatorRole } from '../helpers/external-server.js';

describe("the operator's role on an external PostgreSQL", () => {
  let root: string;
  let server: ExternalServer;
  let url: string;

  before(async () => {
    root = await makeTemp();
    server = await ExternalServer.create(root);
    url = await server.makeOperatorRole();
    await server.superQuery([`ALTER ROLE ${operatorRole.user} SET createrole_self_grant = 'set'`]);
  });

  after(async () => {
    await server.stop('fast');
    await killAll(join(root, 'data'));
    await removeTemp(root);
  });

  /** The databases and roles of the server whose names start with `prefix`. */
  const namesLike = async (prefix: string) => {
    const [databases, roles] = await server.superQuery([
      `SELECT datname AS name FROM pg_database WHERE starts_with(datname, '${prefix}') ORDER BY 1`,
      `SELECT rolname AS name FROM pg_roles WHERE starts_with(rolname, '${prefix}') ORDER BY 1`,
    ]);
    return {
      databases: databases!.rows.map((row: { name: string }) => row.name),
      roles: roles!.rows.map((row: { name: string }) => row.name),
    };
  };

  /** An instance's database login, as the manager keeps it (sealed in the store). */
  const loginOf = async (daemon: Daemon, id: string) => {
    const key = Buffer.from(
      (await readFile(join(daemon.data, 'secret.key'), 'utf8')).trim(),
      'base64',
    );
    const [found] = await server.superQuery(
      [`SELECT db_name, db_password_sealed FROM instances WHERE id = '${id}'`],
      'appvisor',
    );
    const row = found!.rows[0] as { db_name: string; db_password_sealed: string };
    return { user: row.db_name, password: new SecretBox(key).open(row.db_password_sealed) };
  };

  /** Connects as `login` to `database`; resolves with the error's SQLSTATE, or 'connected'. */
  const tryConnect = async (login: { user: string; password: string }, database: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port: server.port, database, ...login });
    try {
      await client.connect();
      await client.end();
      return 'connected';
    } catch (error) {
      await client.end().catch(() => undefined);
      return String((error as { code?: unknown }).code);
    }
  };

  test('a role without CREATEROLE is refused at start, before anything is made', async () => {
    await server.superQuery(["CREATE ROLE weak LOGIN CREATEDB PASSWORD 'weak-password-1'"]);
    const failed = await failingDaemon(join(root, 'weak'), [
      '--set',
      `database.url=${server.urlOf({ user: 'weak', password: 'weak-password-1' })}`,
    ]);
    assert.equal(failed.code, 2, failed.stderr);
    assert.match(failed.stderr, /error DATABASE_PRIVILEGES: .*lacks CREATEROLE/);
    assert.match(failed.stderr, /ALTER ROLE "weak" CREATEROLE/);
    assert.deepEqual((await namesLike('appvisor')).databases, [], 'no store was made');
  });

  test('a wrong password ends the start at once, saying so', async () => {
    const failed = await failingDaemon(join(root, 'wrong'), [
      '--set',
      `database.url=${server.urlOf({ user: operatorRole.user, password: 'not-the-password' })}`,
    ]);
    assert.equal(failed.code, 2, failed.stderr);
    assert.match(failed.stderr, /error DATABASE_LOGIN: .*ext_admin.*28P01/);
    assert.doesNotMatch(failed.stderr, /DATABASE_UNAVAILABLE/, 'no retry');
    assert.ok(!failed.stderr.includes('not-the-password'), 'the password is not shown');
  });

  test('instances are created, used, backed up, cloned and deleted, private to their roles', async () => {
    const data = join(root, 'data');
    let daemon = await startDaemon({ data, args: ['--set', `database.url=${url}`] });
    try {
      // The role does not own the server's shared databases: the operator is told what to run.
      assert.match(daemon.stderr(), /REVOKE CONNECT ON DATABASE "postgres" FROM PUBLIC;/);
      await echoWithInstance(daemon, 'alpha');
      await createInstance(daemon, 'echo', 'beta', '--domain', 'example.com');
      const counted = await http('POST', { url: daemon.httpUrl }, '/example.com/alpha/count');
      assert.equal(counted.status, 200, counted.text);
      assert.equal((counted.body as { count: number }).count, 1);

      const alpha = await loginOf(daemon, 'alpha');
      const beta = await loginOf(daemon, 'beta');
      assert.equal(await tryConnect(alpha, alpha.user), 'connected');
      // 42501: permission denied for database (PUBLIC may not connect).
      assert.equal(await tryConnect(beta, alpha.user), '42501', "beta's role is kept out");
      assert.equal(await tryConnect(alpha, beta.user), '42501', "alpha's role is kept out");
      assert.equal(await tryConnect(beta, 'appvisor'), '42501', 'the store is private');

      const made = JSON.parse(await cliOk(daemon, 'backup', 'create', 'alpha', '--json')) as {
        file: string;
      };
      await cliOk(daemon, 'backup', 'restore', made.file, '--as', 'alpha2');
      await waitForInstance(daemon, 'alpha2');
      const clone = await http('POST', { url: daemon.httpUrl }, '/example.com/alpha2/count');
      assert.equal(clone.status, 200, clone.text);
      assert.equal((clone.body as { count: number }).count, 2, 'the clone has the count');
      const alpha2 = await loginOf(daemon, 'alpha2');
      assert.equal(await tryConnect(alpha, alpha2.user), '42501', 'the clone is private too');

      await cliOk(daemon, 'backup', 'restore', made.file, '--into', 'beta');
      await waitForInstance(daemon, 'beta');

      for (const id of ['alpha', 'alpha2']) await cliOk(daemon, 'instance', 'delete', id, '--yes');
      await eventually(
        async () => {
          const listed = await cli(['instance', 'list', '--json', '--data', data]);
          const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((view) => view.id);
          return ids.join(',') === 'beta' ? true : undefined;
        },
        30_000,
        'the deletes done',
      );
      assert.deepEqual(await namesLike('i_alpha'), { databases: [], roles: [] });
      assert.deepEqual(await namesLike('m_alpha'), { databases: [], roles: [] });

      // The operator runs what the warning said; then instance roles are kept out of them.
      const statements = /as a superuser run: (.*?\bFROM PUBLIC;)(?: \(|\n)/.exec(
        daemon.stderr(),
      )?.[1];
      assert.ok(statements, daemon.stderr());
      assert.equal((await daemon.stop()).code, 0);
      await server.superQuery([statements]);
      daemon = await startDaemon({ data, args: ['--set', `database.url=${url}`] });
      assert.doesNotMatch(daemon.stderr(), /FROM PUBLIC/, 'no warning any more');
      assert.equal(await tryConnect(beta, 'postgres'), '42501');
      await waitForInstance(daemon, 'beta');
      const page = await http('GET', { url: daemon.httpUrl }, '/example.com/beta/count');
      assert.equal(page.status, 200, page.text);
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });
});
