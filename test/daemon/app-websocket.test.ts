import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import {
  connectAppWebsocket as connect,
  type AppWebsocketClient as Client,
} from '../../src/sdk/testing/index.js';
import { cli, echoWithInstance, http, passwordOf, withDaemon } from '../helpers/daemon.js';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Echo through the session; fails unless the answer comes back. */
async function echoes(client: Client, text: string): Promise<void> {
  client.send({ mt: 'Echo', text, src: text });
  assert.deepEqual(await client.next(), { mt: 'EchoResult', text, src: text });
}

describe('AppWebsocket login to an instance through the front', () => {
  const running = withDaemon();
  let password = '';
  const urls: [string, string][] = [];

  before(async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'pbx');
    password = await passwordOf(daemon, 'pbx');
    urls.push(
      ['handoff', `${daemon.httpUrl.replace(/^http/, 'ws')}/example.com/pbx/`],
      ['TLS', `${daemon.httpsUrl.replace(/^https/, 'wss')}/example.com/pbx/`],
    );
  });

  test('a PBX-style login with the instance password is answered with the domain', async () => {
    for (const [how, url] of urls) {
      const client = await connect(url);
      const result = await client.login(password, { info: { cn: 'Alice' } });
      assert.deepEqual(result, { mt: 'AppLoginResult', ok: true, domain: 'example.com', src: 'l' });
      client.send({ mt: 'PbxInfo', domain: 'pbx.example', pbx: 'pbx1', apis: [] });
      client.send({ mt: 'KeepAlive' });
      await echoes(client, `after login over ${how}`);
      client.ws.close();
    }
  });

  test('as innovaphone clients do: CheckBuild first, CR LF in a field hashed as LF', async () => {
    for (const [how, url] of urls) {
      const client = await connect(url);
      client.send({ mt: 'CheckBuild', url: `https://apps.example/example.com/pbx/echo.htm` });
      assert.deepEqual(await client.next(), { mt: 'CheckBuildResult' }, how);
      const result = await client.login(password, { dn: 'Alice\r\nSmith', info: { cn: 'A' } });
      assert.equal(result.ok, true, how);
      client.send({ mt: 'CheckBuild', url: 'x', src: 'again' });
      assert.deepEqual(await client.next(), { mt: 'CheckBuildResult', src: 'again' }, how);
      await echoes(client, `CR LF over ${how}`);
      client.ws.close();
    }
  });

  test('missing fields are empty strings; a login without digest fails', async () => {
    for (const [, url] of urls) {
      const client = await connect(url);
      const challenge = await client.challenge();
      client.send({ mt: 'AppLogin', digest: sha256(`:::::${challenge}:${password}`) });
      assert.equal((await client.next()).ok, true);
      await echoes(client, 'empty fields');
      client.ws.close();

      const other = await connect(url);
      await other.challenge();
      other.send({ mt: 'AppLogin', app: 'x' });
      assert.equal((await other.next()).ok, false);
      other.ws.close();
    }
  });

  test('wrong password: refused, nothing echoed, closed after the third try', async () => {
    for (const [, url] of urls) {
      const client = await connect(url);
      assert.equal((await client.login('not the password')).ok, false);
      client.send({ mt: 'Echo', text: 'sneaky' });
      assert.equal((await client.login(`${password}x`)).ok, false, 'the Echo was not answered');
      assert.equal((await client.login('')).ok, false);
      assert.equal((await client.closed).code, 1008);
    }
  });

  test('a challenge replayed from another connection is refused', async () => {
    for (const [, url] of urls) {
      const first = await connect(url);
      const second = await connect(url);
      const stolen = await first.challenge();
      await second.challenge();
      assert.equal((await second.login(password, {}, stolen)).ok, false);
      first.ws.close();
      second.ws.close();
    }
  });

  test('non-JSON and oversized frames close the connection', async () => {
    for (const [, url] of urls) {
      const garbage = await connect(url);
      garbage.send('this is not JSON');
      assert.equal((await garbage.closed).code, 1008);
      const big = await connect(url);
      big.send(JSON.stringify({ mt: 'AppChallenge', pad: 'x'.repeat(100_000) }));
      assert.equal((await big.closed).code, 1009);
    }
  });

  test('a changed password applies to the next login, not to open sessions', async () => {
    const { daemon } = running;
    const [, url] = urls[0]!;
    const open = await connect(url);
    assert.equal((await open.login(password)).ok, true);
    const changed = await cli([
      'instance',
      'set',
      'pbx',
      '--password',
      'a-new-instance-password-42',
      '--data',
      daemon.data,
    ]);
    assert.equal(changed.code, 0, changed.stderr);
    const next = await connect(url);
    assert.equal((await next.login(password)).ok, false);
    assert.equal((await next.login('a-new-instance-password-42')).ok, true);
    await echoes(open, 'still logged in');
    password = 'a-new-instance-password-42';
    open.ws.close();
    next.ws.close();
  });
});

describe('admin login to an instance', () => {
  const running = withDaemon();
  let url = '';

  before(async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'adm');
    url = `${daemon.httpUrl.replace(/^http/, 'ws')}/example.com/adm/`;
  });

  test('the API signs the challenge the instance gave; the login works', async () => {
    const { daemon } = running;
    const client = await connect(url);
    const challenge = await client.challenge();
    const answer = await http(
      'POST',
      { socket: daemon.socket },
      '/manager/api/v1/instances/adm/login',
      {
        body: { challenge },
      },
    );
    assert.equal(answer.status, 200, answer.text);
    const body = answer.body as { login: Record<string, string>; sessionKey: string };
    assert.deepEqual(
      { ...body.login, digest: undefined },
      {
        mt: 'AppLogin',
        app: 'echo',
        domain: 'example.com',
        sip: 'echo',
        guid: '0'.repeat(32),
        dn: 'Admin',
        digest: undefined,
      },
    );
    const password = await passwordOf(daemon, 'adm');
    assert.equal(body.sessionKey, sha256(`innovaphoneAppSessionKey:${challenge}:${password}`));
    client.send(body.login);
    assert.deepEqual(await client.next(), {
      mt: 'AppLoginResult',
      ok: true,
      domain: 'example.com',
    });
    await echoes(client, 'admin');
    client.ws.close();
  });

  test('appvisor instance login prints the AppLogin to send', async () => {
    const { daemon } = running;
    const client = await connect(url);
    const challenge = await client.challenge();
    const printed = await cli([
      'instance',
      'login',
      'adm',
      '--challenge',
      challenge,
      '--data',
      daemon.data,
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    const [frame, keyLine] = printed.stdout.trim().split('\n');
    assert.match(keyLine!, /^session key [0-9a-f]{64}$/);
    client.send(frame!);
    assert.equal((await client.next()).ok, true);
    client.ws.close();

    const json = await cli([
      'instance',
      'login',
      'adm',
      '--challenge',
      'abc',
      '--json',
      '--data',
      daemon.data,
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { login: { dn: string } }).login.dn, 'Admin');
  });

  test('refusals: unknown instance, bad challenge, no challenge, not logged in', async () => {
    const { daemon } = running;
    const unknown = await cli([
      'instance',
      'login',
      'nobody',
      '--challenge',
      'abc',
      '--data',
      daemon.data,
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error INSTANCE_NOT_FOUND: /);
    const bad = await cli([
      'instance',
      'login',
      'adm',
      '--challenge',
      'a:b',
      '--data',
      daemon.data,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error BAD_REQUEST: /);
    // Without a challenge it says how to get one (BAD_REQUEST: instances.test.ts has its text).
    const missing = await cli(['instance', 'login', 'adm', '--data', daemon.data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error BAD_REQUEST: instance login needs --challenge/);
    const anonymous = await http(
      'POST',
      { url: daemon.adminUrl },
      '/manager/api/v1/instances/adm/login',
      {
        body: { challenge: 'abc' },
      },
    );
    assert.equal(anonymous.status, 401);
  });
});
