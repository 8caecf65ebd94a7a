import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import {
  appWebsocket,
  maxFailedLogins,
  type AppSession,
  type AppWebsocketOptions,
  type Instance,
} from '../../src/sdk/index.js';
import { connectAppWebsocket as connect } from '../../src/sdk/testing/index.js';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The parts of an Instance the login reads; `password` may change between logins. */
interface FakeInstance {
  password: string;
  domain: string;
  logged: unknown[][];
}

/** A ws server on loopback whose connections go through appWebsocket with a fake instance. */
async function serve(
  t: TestContext,
  options: Partial<AppWebsocketOptions> = {},
): Promise<{ url: string; instance: FakeInstance; sessions: AppSession[] }> {
  const instance: FakeInstance = { password: 'pwd', domain: 'example.com', logged: [] };
  const sessions: AppSession[] = [];
  const handler = appWebsocket({
    session(session) {
      sessions.push(session);
      session.on('message', (message) => {
        if (message.mt === 'Echo') session.send({ mt: 'EchoResult', text: message.text }, message);
      });
    },
    ...options,
  });
  const fake = {
    get password() {
      return instance.password;
    },
    get domain() {
      return instance.domain;
    },
    path: '/example.com/acme',
    log: (...parts: unknown[]) => instance.logged.push(parts),
    // Every trace flag off: tracing is sdk-trace.test.ts's.
    traceFlags: new Set<string>(),
    trace: () => undefined,
  } as unknown as Instance;
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (ws, request) => {
    handler(ws, request, fake);
  });
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, instance, sessions };
}

describe('appWebsocket: the login', () => {
  test('a correct login is answered with the domain and gives the app a session', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(url);
    const challenge = await client.challenge();
    assert.match(challenge, /^[0-9a-f]{16}$/);
    const result = await client.login('pwd', { info: { cn: 'Alice A.' } }, challenge);
    assert.deepEqual(result, { mt: 'AppLoginResult', ok: true, domain: 'example.com', src: 'l' });
    assert.equal(sessions.length, 1);
    const session = sessions[0]!;
    assert.deepEqual(session.login, {
      app: 'myapp',
      domain: 'pbx.example',
      sip: 'alice',
      guid: 'g1',
      dn: 'Alice',
      info: { cn: 'Alice A.' },
      pbxObj: 'obj-1',
    });
    assert.equal(session.sessionKey, sha256(`innovaphoneAppSessionKey:${challenge}:pwd`));
    assert.equal(session.hash('s', 'd'), sha256(`s:${session.sessionKey}:d`));

    client.send({ mt: 'KeepAlive' });
    client.send({
      mt: 'PbxInfo',
      domain: 'pbx.example',
      pbx: 'pbx1',
      pbxDns: 'pbx1.example',
      apis: ['PbxApi'],
    });
    client.send({ mt: 'Echo', text: 'hi', src: 7 });
    assert.deepEqual(await client.next(), { mt: 'EchoResult', text: 'hi', src: 7 });
    assert.deepEqual(session.pbx, {
      domain: 'pbx.example',
      pbx: 'pbx1',
      pbxDns: 'pbx1.example',
      apis: ['PbxApi'],
    });
  });

  test('a session knows the path inside the instance it came on', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(`${url}example.com/acme/ws?build=7`);
    assert.equal((await client.login('pwd')).ok, true);
    assert.equal(sessions[0]!.path, '/ws');
    assert.equal(sessions[0]!.request.url, '/example.com/acme/ws?build=7');
  });

  test('missing fields count as empty strings in the digest', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(url);
    const challenge = await client.challenge();
    const digest = sha256(`:::::${challenge}:pwd`);
    client.send({ mt: 'AppLogin', digest });
    assert.equal((await client.next()).ok, true);
    assert.equal(sessions[0]!.login.app, '');
    assert.equal(sessions[0]!.login.info, undefined);
  });

  test('a login with CR LF in a field: the digest the innovaphone client makes', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(url);
    // The helper hashes as that client does (CR LF as LF).
    const result = await client.login('pwd', { dn: 'Alice\r\nSmith' });
    assert.equal(result.ok, true);
    assert.equal(sessions[0]!.login.dn, 'Alice\r\nSmith');
    const key = sessions[0]!.sessionKey;
    assert.equal(sessions[0]!.hash('s', 'a\r\nb'), sha256(`s:${key}:a\nb`));
  });

  test('before the login nothing else is answered', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(url);
    client.send({ mt: 'Echo', text: 'too early' });
    client.send({ mt: 'PbxInfo', domain: 'x' });
    client.send({ mt: 'KeepAlive' });
    // The first answer is the challenge's (challenge() checks): the others were not served.
    assert.match(await client.challenge(), /^[0-9a-f]{16}$/);
    assert.equal(sessions.length, 0);
  });
});

describe('appWebsocket: refusals', () => {
  test('a wrong password fails; the third failure closes the connection', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(url);
    for (let i = 1; i <= maxFailedLogins; i++) {
      assert.deepEqual(await client.login('wrong'), { mt: 'AppLoginResult', ok: false, src: 'l' });
    }
    assert.equal((await client.closed).code, 1008);
    assert.equal(sessions.length, 0);
  });

  test('a challenge serves one attempt; one from another connection does not work', async (t) => {
    const { url } = await serve(t);
    const first = await connect(url);
    const second = await connect(url);
    const challenge = await first.challenge();
    await second.challenge();
    // Replayed on another connection (which issued its own challenge): refused.
    assert.equal((await second.login('pwd', {}, challenge)).ok, false);
    // A login without any challenge issued: refused.
    const third = await connect(url);
    assert.equal((await third.login('pwd', {}, challenge)).ok, false);
    // The right connection, but the challenge was used by a failed attempt: refused.
    assert.equal((await first.login('nope', {}, challenge)).ok, false);
    assert.equal((await first.login('pwd', {}, challenge)).ok, false);
    // A fresh one works.
    assert.equal((await first.login('pwd')).ok, true);
  });

  test('fields of the wrong type fail the login', async (t) => {
    const { url } = await serve(t);
    for (const bad of [
      { app: 5 },
      { info: 'text' },
      { info: null },
      { info: [1] },
      { pbxObj: {} },
    ]) {
      const client = await connect(url);
      assert.equal((await client.login('pwd', bad)).ok, false, JSON.stringify(bad));
      client.ws.close();
    }
    const noDigest = await connect(url);
    await noDigest.challenge();
    noDigest.send({ mt: 'AppLogin', app: 'x' });
    assert.equal((await noDigest.next()).ok, false);
  });

  test('non-JSON, non-object, binary and oversized frames close the connection', async (t) => {
    const { url } = await serve(t);
    const cases: [string | Buffer, number][] = [
      ['not json', 1008],
      ['[1,2]', 1008],
      ['{"no":"mt"}', 1008],
      ['"AppChallenge"', 1008],
      [Buffer.from([1, 2, 3]), 1003],
      [JSON.stringify({ mt: 'AppLogin', pad: 'x'.repeat(70_000) }), 1009],
    ];
    for (const [frame, code] of cases) {
      const client = await connect(url);
      client.ws.send(frame);
      assert.equal((await client.closed).code, code, String(frame).slice(0, 20));
    }
  });

  test('a connection that does not log in is closed after the timeout', async (t) => {
    const { url } = await serve(t, { loginTimeoutMs: 150 });
    const client = await connect(url);
    await client.challenge();
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'login timeout');
  });

  test('a logged-in session is not closed by the timeout', async (t) => {
    const { url } = await serve(t, { loginTimeoutMs: 150 });
    const client = await connect(url);
    assert.equal((await client.login('pwd')).ok, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.send({ mt: 'Echo', text: 'still here' });
    assert.equal((await client.next()).text, 'still here');
  });

  test('a password change applies to the next login, not to open sessions', async (t) => {
    const { url, instance } = await serve(t);
    const open = await connect(url);
    assert.equal((await open.login('pwd')).ok, true);
    instance.password = 'new-password';
    const next = await connect(url);
    assert.equal((await next.login('pwd')).ok, false);
    assert.equal((await next.login('new-password')).ok, true);
    open.send({ mt: 'Echo', text: 'open' });
    assert.equal((await open.next()).text, 'open');
  });

  test('a throwing session handler closes that connection with 1011 and is logged', async (t) => {
    const { url, instance } = await serve(t, {
      session() {
        throw new Error('boom');
      },
    });
    const client = await connect(url);
    assert.equal((await client.login('pwd')).ok, true);
    assert.equal((await client.closed).code, 1011);
    assert.ok(instance.logged.some((parts) => String(parts[1]).includes('boom')));
  });
});

describe('appWebsocket: CheckBuild', () => {
  // innovaphone's JavaScript client (innovaphone.appwebsocket.Connection), when its
  // `checkBuild` is on, sends {mt: "CheckBuild", url: location.href} right after the socket
  // opens, before AppChallenge, and on CheckBuildResult loads `url` when the answer has one.
  test('answered before and after the login, without url unless the app gives one', async (t) => {
    const { url, sessions } = await serve(t);
    const client = await connect(url);
    client.send({ mt: 'CheckBuild', url: 'https://apps.example/example.com/x/app.htm' });
    assert.deepEqual(await client.next(), { mt: 'CheckBuildResult' });
    assert.equal((await client.login('pwd')).ok, true);
    client.send({ mt: 'CheckBuild', url: 'https://apps.example/', src: 'b' });
    assert.deepEqual(await client.next(), { mt: 'CheckBuildResult', src: 'b' });
    client.send({ mt: 'Echo', text: 'after' });
    assert.equal((await client.next()).text, 'after', 'the app never saw the CheckBuild');
    assert.equal(sessions.length, 1);
  });

  test("the app's checkBuild names the page to load instead", async (t) => {
    const asked: [string, string][] = [];
    const { url } = await serve(t, {
      checkBuild(page, instance) {
        asked.push([page, instance.domain]);
        return page.includes('build=1') ? page.replace('build=1', 'build=2') : undefined;
      },
    });
    const client = await connect(url);
    client.send({ mt: 'CheckBuild', url: 'https://apps.example/x/app.htm?build=1' });
    assert.deepEqual(await client.next(), {
      mt: 'CheckBuildResult',
      url: 'https://apps.example/x/app.htm?build=2',
    });
    client.send({ mt: 'CheckBuild', url: 'https://apps.example/x/app.htm?build=2' });
    assert.deepEqual(await client.next(), { mt: 'CheckBuildResult' });
    // A url that is not a string reaches the app as "".
    client.send({ mt: 'CheckBuild', url: 42 });
    assert.deepEqual(await client.next(), { mt: 'CheckBuildResult' });
    assert.deepEqual(asked, [
      ['https://apps.example/x/app.htm?build=1', 'example.com'],
      ['https://apps.example/x/app.htm?build=2', 'example.com'],
      ['', 'example.com'],
    ]);
  });

  test('a throwing checkBuild is logged and answered without url', async (t) => {
    const { url, instance } = await serve(t, {
      checkBuild() {
        throw new Error('no build here');
      },
    });
    const client = await connect(url);
    client.send({ mt: 'CheckBuild', url: 'https://apps.example/' });
    assert.deepEqual(await client.next(), { mt: 'CheckBuildResult' });
    assert.ok(instance.logged.some((parts) => String(parts[1]).includes('no build here')));
    assert.match(await client.challenge(), /^[0-9a-f]{16}$/);
  });
});
