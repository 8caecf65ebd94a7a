import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { http, withDaemon } from '../helpers/daemon.js';

/** Sends raw bytes and resolves with everything the server answers until it closes. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.once('close', () => {
      resolve(text);
    });
    // A connection the server drops may end with a reset instead of a close.
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve(text);
      else reject(error);
    });
    socket.setTimeout(5_000, () => socket.destroy());
    socket.write(bytes);
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

describe('front hardening', () => {
  const running = withDaemon({ args: ['--set', 'front.maxConnectionsPerClient=5'] });

  test('a malformed request gets 400 and the connection is closed', async () => {
    const port = Number(new URL(running.daemon.httpUrl).port);
    const answer = await raw(port, 'NONSENSE\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
  });

  test('Content-Length together with Transfer-Encoding (smuggling) is refused', async () => {
    const port = Number(new URL(running.daemon.httpUrl).port);
    const answer = await raw(
      port,
      'POST /manager/api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.ok(!answer.includes('smuggled'));
  });

  test('one client address may hold only the configured number of connections', async () => {
    const { daemon } = running;
    const port = Number(new URL(daemon.httpUrl).port);
    const held = await Promise.all(Array.from({ length: 5 }, () => open(port)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sixth = await raw(port, 'GET /manager/api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(sixth, '', 'the sixth connection is closed without an answer');
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/health');
    assert.equal(after.status, 200, 'closed connections free their places');
  });
});
