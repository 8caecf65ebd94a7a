/**
 * Requests a page of another origin could make the admin's browser send (with its cookie) must
 * not change anything; the admin password needs the current one except on the local socket.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { before, describe, test } from 'node:test';
import { loop, makeAppFolder } from '../helpers/apps.js';
import {
  appStatus,
  cli,
  http,
  login,
  makeTemp,
  waitForApp,
  withDaemon,
} from '../helpers/daemon.js';

interface Answer {
  status: number;
  code: string | undefined;
  setCookie: string | undefined;
}

/** A request with exactly the given headers, as a browser would send it. */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(`/manager/api/v1${path}`, base);
    const outgoing = request(url, { method, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        const cookie = response.headers['set-cookie']?.[0];
        resolve({ status: response.statusCode ?? 0, code, setCookie: cookie });
      });
    });
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}

describe('cross-site requests and the admin password', () => {
  const running = withDaemon({
    // Plain HTTP on the admin origin, so that the requests here are written as browsers do.
    args: ['--set', 'admin.loginAttempts=5', '--set', 'admin.tls=false'],
  });
  let cookie = '';
  let base = '';
  let origin = '';

  before(async () => {
    const { daemon } = running;
    base = daemon.adminUrl;
    origin = new URL(base).origin;
    const work = await makeTemp();
    const folder = await makeAppFolder(work, 'target', { run: loop('target') });
    const installed = await cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
    assert.equal(installed.code, 0, installed.stderr);
    await waitForApp(daemon, 'target');
    const logged = await send(
      base,
      'POST',
      '/auth/login',
      { 'content-type': 'application/json', origin },
      JSON.stringify({ password: daemon.password }),
    );
    assert.equal(logged.status, 200);
    cookie = logged.setCookie!.split(';', 1)[0]!;
  });

  test('a form post or no-cors fetch from another origin does not stop an app', async () => {
    const { daemon } = running;
    const elsewhere = origin.replace('127.0.0.1', 'localhost');
    const attempts: Record<string, string>[] = [
      // <form enctype="text/plain"> on another port or a sibling host
      { cookie, origin: elsewhere, 'content-type': 'text/plain', 'sec-fetch-site': 'same-site' },
      // fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include'})
      { cookie, origin: elsewhere, 'sec-fetch-site': 'cross-site' },
      // a form without Origin (an old browser) still has a form's content type
      { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      // the cookie alone, without a body or any sign of where it came from
      { cookie },
    ];
    for (const headers of attempts) {
      const answer = await send(base, 'POST', '/apps/target/stop', headers, '');
      assert.equal(answer.status, 403, JSON.stringify(headers));
      assert.equal(answer.code, 'FORBIDDEN');
    }
    assert.equal((await appStatus(daemon, 'target')).state, 'running');
  });

  test('a login posted from another origin is refused and not counted', async () => {
    for (let i = 0; i < 8; i++) {
      const answer = await send(
        base,
        'POST',
        '/auth/login',
        { origin: 'http://attacker.example', 'content-type': 'text/plain' },
        JSON.stringify({ password: `wrong-${i}` }),
      );
      assert.equal(answer.status, 403);
    }
    // Had those counted as failures, the limit of 5 would refuse the admin now.
    await login(running.daemon, running.daemon.password!);
  });

  test('the admin UI (same origin, JSON) and token clients still change things', async () => {
    const { daemon } = running;
    const stopped = await send(base, 'POST', '/apps/target/stop', {
      cookie,
      origin,
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(stopped.status, 200);
    const token = await login(daemon, daemon.password!);
    const started = await send(base, 'POST', '/apps/target/start', {
      authorization: `Bearer ${token}`,
    });
    assert.equal(started.status, 200);
    await waitForApp(daemon, 'target');
  });

  test('PUT /admin/password over HTTP needs the current password', async () => {
    const { daemon } = running;
    const token = await login(daemon, daemon.password!);
    const chosen = 'another-long-admin-password';
    const missing = await http('PUT', { url: base }, '/manager/api/v1/admin/password', {
      token,
      body: { password: chosen },
    });
    assert.equal(missing.status, 400);
    assert.equal((missing.body as { field?: string }).field, 'current');
    const wrong = await http('PUT', { url: base }, '/manager/api/v1/admin/password', {
      token,
      body: { password: chosen, current: 'not-the-password' },
    });
    assert.equal(wrong.status, 400);
    assert.equal((wrong.body as { field?: string }).field, 'current');
    await login(daemon, daemon.password!);
    // Over a URL the CLI asks for the current password first.
    const changed = await cli(['admin', 'password', '--set', '--url', base, '--token', token], {
      input: `${daemon.password}\n${chosen}\n`,
    });
    assert.equal(changed.code, 0, changed.stderr);
    await login(daemon, chosen);
    // The local socket is root's: no current password.
    const local = await http('PUT', { socket: daemon.socket }, '/manager/api/v1/admin/password', {
      body: { password: daemon.password },
    });
    assert.equal(local.status, 200, local.text);
    await login(daemon, daemon.password!);
  });
});
