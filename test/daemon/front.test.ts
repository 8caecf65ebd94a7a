import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { connectAppWebsocket as connect } from '../../src/sdk/testing/index.js';
import {
  cli,
  http,
  withDaemon,
  echoWithInstance,
  passwordOf,
  waitForInstance,
} from '../helpers/daemon.js';

/** Logs in to echo with the AppWebsocket login, has `text` echoed, and closes. */
async function echoOnce(url: string, password: string, text: string): Promise<string> {
  const client = await connect(url);
  try {
    assert.equal((await client.login(password)).ok, true);
    client.send({ mt: 'Echo', text });
    const answer = await client.next();
    assert.equal(answer.mt, 'EchoResult');
    return answer.text as string;
  } finally {
    client.ws.close();
  }
}

describe('the front routes instance paths to their service', () => {
  const running = withDaemon();

  before(async () => {
    await echoWithInstance(running.daemon, 'acme');
  });

  test('HTTP and HTTPS requests reach the instance by its path; other paths get 404', async () => {
    const { daemon } = running;
    for (const url of [daemon.httpUrl, daemon.httpsUrl]) {
      const page = await http('GET', { url }, '/example.com/acme/');
      assert.equal(page.status, 200, page.text);
      assert.match(page.text, /acme/);
      const counted = await http('POST', { url }, '/example.com/acme/count');
      assert.equal(counted.status, 200, counted.text);
      assert.equal((counted.body as { instance: string }).instance, 'acme');
    }
    assert.equal(
      (await http('GET', { url: daemon.httpUrl }, '/example.com/acmeX/count')).status,
      404,
    );
    assert.equal(
      (await http('GET', { url: daemon.httpUrl }, '/EXAMPLE.com/acme/count')).status,
      404,
      'paths are case-sensitive',
    );
  });

  test('WebSocket connections reach the instance over HTTP and HTTPS', async () => {
    const { daemon } = running;
    const password = await passwordOf(daemon, 'acme');
    for (const base of [daemon.httpUrl, daemon.httpsUrl]) {
      const url = `${base.replace(/^http/, 'ws')}/example.com/acme/socket`;
      assert.equal(await echoOnce(url, password, `hello über ${base}`), `hello über ${base}`);
    }
  });

  test('a path change moves the route at once', async () => {
    const { daemon } = running;
    assert.equal(
      (await cli(['instance', 'set', 'acme', '--path', '/moved/acme', '--data', daemon.data])).code,
      0,
    );
    assert.equal((await http('GET', { url: daemon.httpUrl }, '/moved/acme/count')).status, 200);
    assert.equal(
      (await http('GET', { url: daemon.httpUrl }, '/example.com/acme/count')).status,
      404,
    );
  });

  test('an instance whose service is down answers 503 with Retry-After, not a hang', async () => {
    const { daemon } = running;
    assert.equal((await cli(['app', 'stop', 'echo', '--data', daemon.data])).code, 0);
    const answer = await http('GET', { url: daemon.httpUrl }, '/moved/acme/count');
    assert.equal(answer.status, 503);
    assert.ok(Number(answer.headers['retry-after']) > 0);
    assert.equal((answer.body as { code: string }).code, 'INSTANCE_UNAVAILABLE');
    await assert.rejects(
      echoOnce(`${daemon.httpUrl.replace(/^http/, 'ws')}/moved/acme/`, 'unused', 'x'),
      /503/,
    );
    assert.equal((await cli(['app', 'start', 'echo', '--data', daemon.data])).code, 0);
    await waitForInstance(daemon, 'acme');
    assert.equal((await http('GET', { url: daemon.httpUrl }, '/moved/acme/count')).status, 200);
  });
});

/**
 * A raw WebSocket client that sends the upgrade request and an AppChallenge (with `src`) in one
 * write, before any 101 can have come back, and resolves with the first message it receives.
 * `tls` sends the same over TLS (the front terminates and pipes it).
 */
function frameBeforeHandshake(
  port: number,
  path: string,
  src: string,
  tls = false,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = tls
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : netConnect(port, '127.0.0.1');
    const payload = Buffer.from(JSON.stringify({ mt: 'AppChallenge', src }));
    const mask = randomBytes(4);
    const frame = Buffer.concat([
      Buffer.from([0x81, 0x80 | payload.length]),
      mask,
      Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!)),
    ]);
    const head = [
      `GET ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n');
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no echo: ${received.toString('latin1').slice(0, 200)}`));
    }, 5_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!received.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(received.toString('latin1').slice(0, 200)));
        return;
      }
      const body = received.subarray(end + 4);
      if (body.length < 2 || body.length < 2 + (body[1]! & 0x7f)) return;
      clearTimeout(timer);
      resolve(
        JSON.parse(body.subarray(2, 2 + (body[1]! & 0x7f)).toString()) as Record<string, unknown>,
      );
      socket.destroy();
    });
    socket.once('error', reject);
    socket.write(Buffer.concat([Buffer.from(head), frame]));
  });
}

async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

describe('WebSocket handoff on plain HTTP', () => {
  const running = withDaemon();

  before(async () => {
    await echoWithInstance(running.daemon, 'hand');
  });

  test('no byte a client sends before the 101 is lost (1,000 connections)', async () => {
    const port = Number(new URL(running.daemon.httpUrl).port);
    for (let i = 0; i < 1000; i++) {
      const answer = await frameBeforeHandshake(port, '/example.com/hand/ws', `early ${i}`);
      assert.deepEqual([answer.mt, answer.src], ['AppChallengeResult', `early ${i}`]);
    }
  });

  test('the same over TLS, terminated and piped (1,000 connections)', async () => {
    const port = Number(new URL(running.daemon.httpsUrl).port);
    for (let i = 0; i < 1000; i++) {
      const answer = await frameBeforeHandshake(port, '/example.com/hand/ws', `tls ${i}`, true);
      assert.deepEqual([answer.mt, answer.src], ['AppChallengeResult', `tls ${i}`]);
    }
  });

  test('the manager holds no file descriptor for handed-over connections', async () => {
    const { daemon } = running;
    const pid = daemon.child.pid!;
    const before = await openFds(pid);
    const url = `${daemon.httpUrl.replace(/^http/, 'ws')}/example.com/hand/ws`;
    const sockets = await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(url);
            ws.once('open', () => {
              resolve(ws);
            });
            ws.once('error', reject);
          }),
      ),
    );
    // each is alive: it answers
    const first = sockets[0]!;
    const answered = new Promise<string>((resolve) =>
      first.once('message', (data: Buffer) => {
        resolve(data.toString());
      }),
    );
    first.send(JSON.stringify({ mt: 'AppChallenge', src: 'still here' }));
    assert.match(await answered, /"src":"still here"/);
    const during = await openFds(pid);
    assert.ok(
      during - before < 10,
      `100 open WebSockets cost the manager ${during - before} descriptors`,
    );
    for (const ws of sockets) ws.close();
  });
});
