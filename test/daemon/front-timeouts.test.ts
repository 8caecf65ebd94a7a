import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';

import { tarBytes } from '../helpers/archives.js';
import {
  http,
  login,
  nodeServiceWithInstance,
  repoRoot,
  waitForApp,
  withDaemon,
} from '../helpers/daemon.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a raw connection from a loopback source address. */
function open(port: number, source = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: source }, () => {
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves when the socket closes, with what the server sent; rejects after `ms`. */
function closed(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      reject(new Error(`still open after ${ms} ms`));
    }, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** The echo example as a tar package, with `padding` bytes of extra file to make it large. */
async function echoPackage(padding: number): Promise<Buffer> {
  const folder = join(repoRoot, 'examples', 'echo');
  return tarBytes([
    { name: 'slowecho/app.json', content: await readFile(join(folder, 'app.json')) },
    { name: 'slowecho/main.mjs', content: await readFile(join(folder, 'main.mjs')) },
    { name: 'slowecho/run', content: await readFile(join(folder, 'run')), mode: 0o755 },
    { name: 'slowecho/padding.bin', content: Buffer.alloc(padding, 'x') },
  ]);
}

describe('front and admin API timeouts', () => {
  const running = withDaemon({
    args: [
      // Plain HTTP on the admin origin: these tests write raw requests to it.
      '--set',
      'admin.tls=false',
      '--set',
      'admin.maxConnections=20',
      '--set',
      'admin.bodyTimeoutSeconds=2',
      '--set',
      'front.maxConnections=12',
      '--set',
      'front.maxConnectionsPerClient=100',
    ],
  });

  test('a login body trickled one byte a second is cut off after the body timeout', async () => {
    const port = Number(new URL(running.daemon.adminUrl).port);
    const body = JSON.stringify({ password: 'x'.repeat(20) });
    const socket = await open(port);
    socket.write(
      `POST /manager/api/v1/auth/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    const started = Date.now();
    const done = closed(socket, 12_000);
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
    }, 1_000);
    try {
      const answer = await done;
      const seconds = (Date.now() - started) / 1000;
      // The body would take 33 s; the 2 s timeout (checked every second) closes it well before.
      assert.ok(seconds < 8, `closed after ${seconds} s`);
      assert.ok(sent < body.length, 'the body was never finished');
      assert.ok(!answer.startsWith('HTTP/1.1 200'), answer);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  test('a package upload by the admin that is slow but steady is not cut off', async () => {
    const { daemon } = running;
    const token = await login(daemon, daemon.password!);
    // Larger than the 1 MiB JSON body limit, sent in 6 parts over about 5 s: longer in all
    // than the 2 s body timeout, but never idle for long.
    const archive = await echoPackage(3 * 1024 * 1024);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        new URL('/manager/api/v1/apps?id=slowecho', daemon.adminUrl),
        {
          method: 'POST',
          agent: false,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/octet-stream',
            'content-length': String(archive.length),
          },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => {
            resolve({ status: response.statusCode ?? 0, text });
          });
        },
      );
      req.once('error', reject);
      void (async () => {
        const part = Math.ceil(archive.length / 6);
        for (let offset = 0; offset < archive.length; offset += part) {
          req.write(archive.subarray(offset, offset + part));
          await sleep(1_000);
        }
        req.end();
      })();
    });
    assert.equal(answer.status, 201, answer.text);
    const installed = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/apps/slowecho', {
      token,
    });
    assert.equal(installed.status, 200);
    await waitForApp(daemon, 'slowecho').catch(() => undefined);
  });

  test('the admin listener holds at most admin.maxConnections', async () => {
    const { daemon } = running;
    const port = Number(new URL(daemon.adminUrl).port);
    await sleep(6_000);
    const held = await Promise.all(Array.from({ length: 20 }, () => open(port)));
    await sleep(200);
    const extra = await open(port);
    extra.write('GET /manager/api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await closed(extra, 5_000), '', 'the 21st connection is closed without answer');
    for (const socket of held) socket.destroy();
    await sleep(200);
    const after = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/health');
    assert.equal(after.status, 200);
  });

  test('the front holds at most front.maxConnections from all clients, and frees places on close', async () => {
    const { daemon } = running;
    const port = Number(new URL(daemon.httpUrl).port);
    // Let connections of earlier tests (keep-alive) end.
    await sleep(6_000);
    // Twelve clients of distinct addresses, each well within its own limit.
    const held = await Promise.all(
      Array.from({ length: 12 }, (_, i) => open(port, `127.0.2.${i + 1}`)),
    );
    await sleep(200);
    const extra = await open(port, '127.0.2.100');
    extra.write('GET /manager/api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await closed(extra, 5_000), '', 'the 13th connection is closed without answer');
    for (const socket of held) socket.destroy();
    await sleep(200);
    const after = await http('GET', { url: daemon.httpUrl }, '/manager/');
    assert.equal(after.status, 308, 'closed connections free their places');
  });
});

/** A service in plain Node.js that answers a POST with the number of bytes of its body. */
const counter = `const http = require('node:http');
const fs = require('node:fs');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => { n += c.length; });
  req.on('end', () => res.end(String(n)));
});
server.listen(socket, () => process.send({ type: 'ready', httpSocket: socket }));
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

describe('requests to apps have an idle timeout, not a total one', () => {
  const running = withDaemon({ args: ['--set', 'front.idleTimeoutSeconds=2'] });

  before(async () => {
    await nodeServiceWithInstance(running.daemon, 'counter', counter, { id: 'c1', path: '/c1' });
  });

  /** Sends a POST head for `length` bytes, then `bytes` of them one every `everyMs`. */
  async function trickle(length: number, bytes: number, everyMs: number) {
    const port = Number(new URL(running.daemon.httpUrl).port);
    const socket = await open(port);
    socket.write(
      `POST /c1/ HTTP/1.1\r\nHost: x\r\nconnection: close\r\ncontent-length: ${length}\r\n\r\n`,
    );
    const started = Date.now();
    const done = closed(socket, 15_000);
    for (let i = 0; i < bytes && !socket.destroyed; i++) {
      await sleep(everyMs);
      socket.write('x');
    }
    try {
      return { answer: await done, seconds: (Date.now() - started) / 1000 };
    } finally {
      socket.destroy();
    }
  }

  test('a body that stops coming is cut off after the idle time', async () => {
    const { answer, seconds } = await trickle(100, 3, 300);
    assert.equal(answer, '', 'no answer: the app never got the whole body');
    assert.ok(seconds < 8, `closed after ${seconds} s`);
  });

  test('a slow but steady body takes longer than the idle time and is answered', async () => {
    const { answer, seconds } = await trickle(10, 10, 500);
    assert.ok(seconds > 4, `took ${seconds} s`);
    assert.match(answer, /^HTTP\/1\.1 200 [^]*\r\n\r\n10$/);
  });
});
