import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectOwnedSocket } from '../../src/lib/owned-socket.js';

/** Resolves with what the server said, or rejects with the connection's error. */
function greeting(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.once('end', () => {
      resolve(text);
    });
    socket.once('error', reject);
  });
}

describe('connectOwnedSocket', () => {
  let folder = '';
  let server: Server;
  const uid = process.getuid?.() ?? 0;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'owned-socket-'));
    server = createServer((socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(join(folder, 'real.sock'), resolve));
    await symlink(join(folder, 'real.sock'), join(folder, 'link.sock'));
    await writeFile(join(folder, 'file'), 'not a socket');
  });

  after(async () => {
    server.close();
    await rm(folder, { recursive: true, force: true });
  });

  test('connects to a socket of the expected owner', async () => {
    assert.equal(await greeting(connectOwnedSocket(join(folder, 'real.sock'), uid)), 'hello');
  });

  test('refuses a link to that same socket', async () => {
    await assert.rejects(greeting(connectOwnedSocket(join(folder, 'link.sock'), uid)), {
      code: 'SOCKET_REFUSED',
    });
  });

  test('refuses a socket of another owner', async () => {
    await assert.rejects(greeting(connectOwnedSocket(join(folder, 'real.sock'), uid + 1)), {
      code: 'SOCKET_REFUSED',
    });
  });

  test('refuses what is not a socket, and fails on a missing path', async () => {
    await assert.rejects(greeting(connectOwnedSocket(join(folder, 'file'), uid)), {
      code: 'SOCKET_REFUSED',
    });
    await assert.rejects(greeting(connectOwnedSocket(join(folder, 'missing'), uid)), {
      code: 'ENOENT',
    });
  });
});
