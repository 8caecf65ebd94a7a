import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StatusReport } from '../../src/api/index.js';
import {
  cli,
  eventually,
  failingDaemon,
  http,
  isAlive,
  killAll,
  login,
  makeTemp,
  processesOf,
  removeTemp,
  startDaemon,
  withDaemon,
} from '../helpers/daemon.js';

describe('the daemon from start to stop', () => {
  const running = withDaemon();

  test('prints the admin URLs and a one-time admin password', () => {
    assert.match(running.daemon.httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(running.daemon.httpsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(running.daemon.password ?? '', /^[A-Za-z0-9_-]{24}$/);
  });

  test('answers health without authentication over HTTP, HTTPS and the socket', async () => {
    for (const target of [{ url: running.daemon.adminUrl }, { socket: running.daemon.socket }]) {
      const answer = await http('GET', target, '/manager/api/v1/health');
      assert.equal(answer.status, 200, JSON.stringify(target));
      assert.deepEqual(answer.body, {
        status: 'ok',
        version: (answer.body as { version: string }).version,
        database: 'running',
      });
    }
  });

  test('refuses every other route without a login, over HTTP', async () => {
    for (const path of [
      '/manager/api/v1/status',
      '/manager/api/v1/events',
      '/manager/api/v1/auth/session',
    ]) {
      const answer = await http('GET', { url: running.daemon.adminUrl }, path);
      assert.equal(answer.status, 401, path);
      assert.equal((answer.body as { code: string }).code, 'UNAUTHORIZED');
    }
    const bogus = await http('GET', { url: running.daemon.adminUrl }, '/manager/api/v1/status', {
      token: 'not-a-token',
    });
    assert.equal(bogus.status, 401);
  });

  test('logs in with the password: bearer token and HttpOnly SameSite=Strict cookie', async () => {
    const wrong = await http(
      'POST',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/login',
      {
        body: { password: 'wrong-password-123' },
      },
    );
    assert.equal(wrong.status, 401);
    assert.equal((wrong.body as { code: string }).code, 'LOGIN_FAILED');

    const answer = await http(
      'POST',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/login',
      {
        body: { password: running.daemon.password },
      },
    );
    assert.equal(answer.status, 200);
    const { token } = answer.body as { token: string };
    const cookie = String(answer.headers['set-cookie']);
    assert.match(cookie, /appvisor_session=/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);

    const withToken = await http(
      'GET',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/status',
      {
        token,
      },
    );
    assert.equal(withToken.status, 200);
    const status = withToken.body as StatusReport;
    assert.equal(status.manager.state, 'running');
    assert.equal(status.database.state, 'running');

    const withCookie = await http(
      'GET',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/session',
      {
        cookie: `appvisor_session=${token}`,
      },
    );
    assert.equal(withCookie.status, 200);
    assert.equal((withCookie.body as { via: string }).via, 'cookie');

    const logout = await http(
      'POST',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/logout',
      {
        token,
      },
    );
    assert.equal(logout.status, 200);
    const afterLogout = await http(
      'GET',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/status',
      {
        token,
      },
    );
    assert.equal(afterLogout.status, 401);
  });

  test('the socket is owner-only and its peer needs no login', async () => {
    const info = await stat(running.daemon.socket);
    assert.equal(info.mode & 0o777, 0o600);
    const answer = await http('GET', { socket: running.daemon.socket }, '/manager/api/v1/status');
    assert.equal(answer.status, 200);
  });

  test('`appvisor status --json` shows the manager and the database up', async () => {
    const result = await cli(['status', '--json', '--data', running.data]);
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as StatusReport;
    assert.equal(status.manager.state, 'running');
    assert.equal(status.manager.pid, running.daemon.child.pid);
    assert.equal(status.database.state, 'running');
    assert.equal(status.database.mode, 'embedded');
    assert.match(status.database.version ?? '', /^18\./);
    const human = await cli(['status', '--data', running.data]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^manager\s+running/m);
    assert.match(human.stdout, /^database\s+running, embedded PostgreSQL 18/m);
  });

  test('unknown paths get 404 and / redirects to the admin UI', async () => {
    const missing = await http('GET', { url: running.daemon.httpUrl }, '/no/such/app');
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { code: string }).code, 'NOT_FOUND');
    const root = await http('GET', { url: running.daemon.httpUrl }, '/');
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, `${running.daemon.adminUrl}/manager/`);
    // The front's /manager/ only points to the admin origin; the admin origin serves no app.
    const pointed = await http('GET', { url: running.daemon.httpUrl }, '/manager/apps?x=1');
    assert.equal(pointed.status, 308);
    assert.equal(pointed.headers.location, `${running.daemon.adminUrl}/manager/apps?x=1`);
    const noApps = await http('GET', { url: running.daemon.adminUrl }, '/no/such/app');
    assert.equal(noApps.status, 404);
  });

  test('a second manager on the same running.data folder is refused with exit 2', async () => {
    const second = await failingDaemon(running.data);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /error ALREADY_RUNNING: .*pid/);
    // and the first one is unharmed
    const health = await http('GET', { url: running.daemon.adminUrl }, '/manager/api/v1/health');
    assert.equal(health.status, 200);
  });

  test('SIGTERM stops everything: exit 0, no postgres or other process left, lock and socket gone', async () => {
    const status = (await http('GET', { socket: running.daemon.socket }, '/manager/api/v1/status'))
      .body as StatusReport;
    const postmaster = status.database.pid!;
    assert.ok(isAlive(postmaster));
    const exit = await running.daemon.stop();
    assert.equal(exit.code, 0);
    assert.equal(isAlive(postmaster), false);
    assert.deepEqual(await processesOf(running.data), []);
    await assert.rejects(stat(join(running.data, 'manager.sock')));
    await assert.rejects(stat(join(running.data, 'manager.pid')));
    const log = await readFile(join(running.data, 'logs', 'manager.log'), 'utf8');
    assert.match(log, /"msg":"manager stopped"/);
    assert.ok(!log.includes(running.daemon.password!), 'the admin password is never logged');
  });
});

describe('the daemon across restarts', () => {
  let data: string;
  const password = 'correct-horse-battery-staple';

  before(async () => {
    data = await makeTemp();
  });

  after(async () => {
    await killAll(data);
    await removeTemp(data);
  });

  test('keeps the store across a restart and after kill -9 of the manager', async () => {
    const env = { APPVISOR_ADMIN_INITIAL_PASSWORD: password };
    const first = await startDaemon({ data, env });
    assert.equal(first.password, undefined, 'a configured password is not printed');
    const token = await login(first, password);
    assert.equal((await first.stop()).code, 0);

    // A row written before (the login) is read after.
    const second = await startDaemon({ data, env });
    const status = await http('GET', { url: second.adminUrl }, '/manager/api/v1/status', { token });
    assert.equal(status.status, 200, status.text);
    const before = (status.body as StatusReport).database.pid!;

    // kill -9 leaves the database server, the lock file and the socket behind.
    second.child.kill('SIGKILL');
    await second.exited;
    assert.ok(isAlive(before), 'the database server outlives a killed manager');

    const third = await startDaemon({ data, env });
    const again = await http('GET', { url: third.adminUrl }, '/manager/api/v1/status', { token });
    assert.equal(again.status, 200, again.text);
    const report = again.body as StatusReport;
    assert.equal(report.database.state, 'running');
    assert.notEqual(report.database.pid, before);
    assert.equal(isAlive(before), false, 'the left-over server was stopped');
    assert.equal((await third.stop()).code, 0);
    assert.deepEqual(await processesOf(data), []);
  });
});

describe('the embedded database dies', () => {
  const running = withDaemon();

  test('is restarted, with a database-down alarm raised and cleared', async () => {
    const socket = { socket: running.daemon.socket };
    const first = (await http('GET', socket, '/manager/api/v1/status')).body as StatusReport;
    process.kill(first.database.pid!, 'SIGKILL');
    const back = await eventually(
      async () => {
        const status = (await http('GET', socket, '/manager/api/v1/status')).body as StatusReport;
        return status.database.state === 'running' && status.database.restarts >= 1
          ? status
          : undefined;
      },
      60_000,
      'the database to be back',
    );
    assert.notEqual(back.database.pid, first.database.pid);
    assert.deepEqual(back.alarms, []);
    const events = (await http('GET', socket, '/manager/api/v1/events?limit=50')).body as {
      events: { kind: string; subject: string }[];
    };
    const kinds = events.events.map((e) => e.kind);
    assert.ok(kinds.includes('alarm.raised.database-down'), kinds.join());
    assert.ok(kinds.includes('alarm.cleared.database-down'), kinds.join());
    // The store works again through the same pool.
    const health = await http('GET', { url: running.daemon.adminUrl }, '/manager/api/v1/health');
    assert.equal((health.body as { status: string }).status, 'ok');
    const login = await http(
      'POST',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/login',
      {
        body: { password: running.daemon.password },
      },
    );
    assert.equal(login.status, 200, login.text);
  });
});
