import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cli, http, login, withDaemon } from '../helpers/daemon.js';

describe('the admin password', () => {
  const running = withDaemon({ args: ['--set', 'admin.loginAttempts=3'] });

  test('`appvisor admin password` prints a new one and ends every login', async () => {
    const oldToken = await login(running.daemon, running.daemon.password!);
    const result = await cli(['admin', 'password', '--data', running.data]);
    assert.equal(result.code, 0, result.stderr);
    const fresh = /new admin password: (\S+)/.exec(result.stdout)?.[1];
    assert.ok(fresh && fresh.length >= 24);
    const old = await http('GET', { url: running.daemon.adminUrl }, '/manager/api/v1/status', {
      token: oldToken,
    });
    assert.equal(old.status, 401);
    const refused = await http(
      'POST',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/login',
      {
        body: { password: running.daemon.password },
      },
    );
    assert.equal(refused.status, 401);
    await login(running.daemon, fresh);
  });

  test('`--set` reads the password from stdin and refuses a short one', async () => {
    const weak = await cli(['admin', 'password', '--set', '--data', running.data], {
      input: 'short\n',
    });
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /^error PASSWORD_WEAK: .*at least 12 characters/);
    const chosen = 'a-long-enough-admin-password';
    const set = await cli(['admin', 'password', '--set', '--data', running.data], {
      input: `${chosen}\n`,
    });
    assert.equal(set.code, 0, set.stderr);
    assert.doesNotMatch(set.stdout, new RegExp(chosen));
    await login(running.daemon, chosen);
  });

  test('failed logins are rate limited per client', async () => {
    const chosen = 'a-long-enough-admin-password';
    for (let i = 0; i < 3; i++) {
      const wrong = await http(
        'POST',
        { url: running.daemon.adminUrl },
        '/manager/api/v1/auth/login',
        {
          body: { password: `wrong-${i}` },
        },
      );
      assert.equal(wrong.status, 401);
    }
    const limited = await http(
      'POST',
      { url: running.daemon.adminUrl },
      '/manager/api/v1/auth/login',
      {
        body: { password: chosen },
      },
    );
    assert.equal(limited.status, 429);
    assert.equal((limited.body as { code: string }).code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    // The local socket is not a network client: its admin is never locked out.
    const local = await http('GET', { socket: running.daemon.socket }, '/manager/api/v1/status');
    assert.equal(local.status, 200);
  });
});
