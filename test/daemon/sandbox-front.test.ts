/**
 * A hostile service tries to make the front deliver its visitors' requests somewhere else (the
 * admin socket), or to make pipelined bytes reach a service as if the front had sent them.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { before, describe, test } from 'node:test';
import {
  appStatus,
  echoWithInstance,
  http,
  nodeServiceWithInstance,
  passwordOf,
  withDaemon,
} from '../helpers/daemon.js';

/** Says ready naming the admin socket as its HTTP socket; listens nowhere. */
const namer = `const path = require('node:path');
const admin = path.resolve(process.env.APPVISOR_DATA_DIR, '..', '..', 'manager.sock');
process.send({ type: 'ready', httpSocket: admin, handoff: false });
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

/** Puts a link to the admin socket where its own HTTP socket belongs. */
const linker = `const fs = require('node:fs');
const path = require('node:path');
const admin = path.resolve(process.env.APPVISOR_DATA_DIR, '..', '..', 'manager.sock');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
fs.symlinkSync(admin, socket);
process.send({ type: 'ready', httpSocket: socket, handoff: false });
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

/**
 * An honest service without handoff, with a minimal HTTP/1.1 server of its own (as many
 * non-Node stacks behave, it treats an upgrade it does not take as an ordinary request and
 * reads on): it remembers the forwarding headers of every request and shows them at /spy/seen.
 */
const spy = `const net = require('node:net');
const fs = require('node:fs');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
const seen = [];
const server = net.createServer((conn) => {
  let buffered = '';
  conn.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    let end;
    while ((end = buffered.indexOf('\\r\\n\\r\\n')) >= 0) {
      const head = buffered.slice(0, end).split('\\r\\n');
      buffered = buffered.slice(end + 4);
      const url = head[0].split(' ')[1];
      const headers = {};
      for (const line of head.slice(1)) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      if (url.endsWith('/cookie-101')) {
        conn.end('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n' +
          'Set-Cookie: appvisor_session=from-app; Path=/\\r\\nset-cookie: __Host-appvisor_session=x; Path=/; Secure\\r\\n' +
          'Set-Cookie: theme=dark\\r\\nClear-Site-Data: "cookies"\\r\\nX-App: kept\\r\\n\\r\\n');
        return;
      }
      let body;
      if (url.endsWith('/seen')) body = JSON.stringify(seen);
      else {
        seen.push({ url, instance: headers['x-appvisor-instance'], forwardedFor: headers['x-forwarded-for'] });
        body = 'spy saw ' + url;
      }
      conn.write('HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body);
    }
  });
  conn.on('error', () => {});
});
server.listen(socket, () => process.send({ type: 'ready', httpSocket: socket, handoff: false }));
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

/** Sends raw bytes and collects everything the server answers until it closes (at most 4 s). */
function raw(port: number, bytes: string, tls = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.once('close', () => {
      resolve(text);
    });
    socket.once('error', () => {
      resolve(text);
    });
    socket.setTimeout(4_000, () => socket.destroy());
    socket.write(bytes);
  });
}

const upgradeHead = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

describe('an app cannot choose where the front connects', () => {
  const running = withDaemon();
  let victimPassword = '';

  before(async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'victim');
    victimPassword = await passwordOf(daemon, 'victim');
    for (const [id, source] of [
      ['namer', namer],
      ['linker', linker],
      ['spy', spy],
    ] as const) {
      await nodeServiceWithInstance(daemon, id, source, { id, path: `/${id}` });
    }
  });

  test('a service naming the admin socket in ready gets its own socket, not the admin API', async () => {
    const { daemon } = running;
    const status = await appStatus(daemon, 'namer');
    const socket = status.httpSocket ?? '';
    assert.ok(socket.endsWith('/http.sock'), `assigned socket, not ${socket}`);
    const answer = await http('GET', { url: daemon.httpUrl }, '/namer/anything');
    assert.equal(answer.status, 503, answer.text);
    assert.equal((answer.body as { code: string }).code, 'INSTANCE_UNAVAILABLE');
  });

  test('an upgrade with a pipelined admin request does not read another instance password', async () => {
    const { daemon } = running;
    const port = Number(new URL(daemon.httpUrl).port);
    const httpsPort = Number(new URL(daemon.httpsUrl).port);
    const attack =
      upgradeHead('/namer/ws') +
      'GET /manager/api/v1/instances/victim?reveal=true HTTP/1.1\r\nHost: x\r\n\r\n' +
      'PATCH /manager/api/v1/settings HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n' +
      'content-length: 20\r\n\r\n{"label":"owned-by"}';
    for (const [target, tls] of [
      [port, false],
      [httpsPort, true],
    ] as const) {
      const answer = await raw(target, attack, tls);
      assert.ok(!answer.includes(victimPassword), 'the victim password leaked');
      assert.ok(!answer.includes('"password"'), answer);
      assert.match(answer, /^HTTP\/1\.1 503 /);
    }
    const settings = await http('GET', { socket: daemon.socket }, '/manager/api/v1/settings');
    assert.ok(!settings.text.includes('owned-by'), 'the settings were changed');
  });

  test('a link to the admin socket in place of the service socket is refused', async () => {
    const { daemon } = running;
    const answer = await http('GET', { url: daemon.httpUrl }, '/linker/anything');
    assert.equal(answer.status, 503, answer.text);
    assert.equal((answer.body as { code: string }).code, 'INSTANCE_UNAVAILABLE');
    const port = Number(new URL(daemon.httpUrl).port);
    const piped = await raw(
      port,
      upgradeHead('/linker/ws') +
        'GET /manager/api/v1/instances/victim?reveal=true HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    assert.ok(!piped.includes(victimPassword), 'the victim password leaked');
    assert.match(piped, /^HTTP\/1\.1 503 /);
  });

  test('the admin socket refuses requests that the front relayed', async () => {
    const { daemon } = running;
    const relayed = await new Promise<number>((resolve, reject) => {
      const socket = connect(daemon.socket);
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.once('close', () => {
        resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0));
      });
      socket.once('error', reject);
      socket.write(
        'GET /manager/api/v1/instances/victim?reveal=true HTTP/1.1\r\nHost: x\r\n' +
          'x-appvisor-instance: namer\r\nconnection: close\r\n\r\n',
      );
    });
    assert.equal(relayed, 403);
  });

  test("a service's 101 cannot set the admin session cookie nor clear the site's data", async () => {
    const { daemon } = running;
    for (const [port, tls] of [
      [Number(new URL(daemon.httpUrl).port), false],
      [Number(new URL(daemon.httpsUrl).port), true],
    ] as const) {
      const answer = await raw(port, upgradeHead('/spy/cookie-101'), tls);
      assert.match(answer, /^HTTP\/1\.1 101 /, answer);
      assert.match(answer, /\r\nSet-Cookie: theme=dark\r\n/, answer);
      assert.match(answer, /\r\nX-App: kept\r\n/, answer);
      assert.doesNotMatch(answer, /appvisor_session|clear-site-data/i, answer);
    }
  });

  test('bytes pipelined behind an upgrade the service did not accept never reach it', async () => {
    const { daemon } = running;
    const forged =
      'GET /spy/forged HTTP/1.1\r\nHost: x\r\nx-appvisor-instance: victim\r\n' +
      'x-forwarded-for: 203.0.113.66\r\n\r\n';
    for (const [port, tls] of [
      [Number(new URL(daemon.httpUrl).port), false],
      [Number(new URL(daemon.httpsUrl).port), true],
    ] as const) {
      const answer = await raw(port, upgradeHead('/spy/ws') + forged, tls);
      assert.match(answer, /^HTTP\/1\.1 200 /, answer);
      assert.match(answer, /spy saw \/spy\/ws/);
      assert.ok(!answer.includes('/spy/forged'), answer);
    }
    const seen = JSON.parse((await http('GET', { url: daemon.httpUrl }, '/spy/seen')).text) as {
      url: string;
      instance: string;
      forwardedFor: string;
    }[];
    assert.ok(seen.length >= 2, JSON.stringify(seen));
    for (const request of seen) {
      assert.equal(request.instance, 'spy', JSON.stringify(seen));
      assert.notEqual(request.forwardedFor, '203.0.113.66', JSON.stringify(seen));
      assert.notEqual(request.url, '/spy/forged');
    }
  });
});
