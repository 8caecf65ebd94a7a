import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  cli,
  http,
  killAll,
  login,
  makeTemp,
  removeTemp,
  startDaemon,
  stopQuietly,
  type Daemon,
} from '../helpers/daemon.js';

describe('the admin password', () => {
  let data: string;
  let daemon: Daemon;

  before(async () => {
    data = await makeTemp();
    daemon = await startDaemon({ data, args: ['--set', 'admin.loginAttempts=3'] });
  });

  after(async () => {
    await stopQuietly(daemon);
    await killAll(data);
    await removeTemp(data);
  });

  test('`appvisor admin password` prints a new one and ends every login', async () => {
    const oldToken = await login(daemon, daemon.password!);
    const result = await cli(['admin', 'password', '--data', data]);
    assert.equal(result.code, 0, result.stderr);
    const fresh = /new admin password: (\S+)/.exec(result.stdout)?.[1];
    assert.ok(fresh && fresh.length >= 24);
    const old = await http('GET', { url: daemon.httpUrl }, '/manager/api/v1/status', {
      token: oldToken,
    });
    assert.equal(old.status, 401);
    const refused = await http('POST', { url: daemon.httpUrl }, '/manager/api/v1/auth/login', {
      body: { password: daemon.password },
    });
    assert.equal(refused.status, 401);
    await login(daemon, fresh);
  });

  test('`--set` reads the password from stdin and refuses a short one', async () => {
    const weak = await cli(['admin', 'password', '--set', '--data', data], { input: 'short\n' });
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /^error PASSWORD_WEAK: .*at least 12 characters/);
    const chosen = 'a-long-enough-admin-password';
    const set = await cli(['admin', 'password', '--set', '--data', data], { input: `${chosen}\n` });
    assert.equal(set.code, 0, set.stderr);
    assert.doesNotMatch(set.stdout, new RegExp(chosen));
    await login(daemon, chosen);
  });

  test('failed logins are rate limited per client', async () => {
    const chosen = 'a-long-enough-admin-password';
    for (let i = 0; i < 3; i++) {
      const wrong = await http('POST', { url: daemon.httpUrl }, '/manager/api/v1/auth/login', {
        body: { password: `wrong-${i}` },
      });
      assert.equal(wrong.status, 401);
    }
    const limited = await http('POST', { url: daemon.httpUrl }, '/manager/api/v1/auth/login', {
      body: { password: chosen },
    });
    assert.equal(limited.status, 429);
    assert.equal((limited.body as { code: string }).code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    // The local socket is not a network client: its admin is never locked out.
    const local = await http('GET', { socket: daemon.socket }, '/manager/api/v1/status');
    assert.equal(local.status, 200);
  });
});
