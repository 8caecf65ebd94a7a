import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { keepAlive } from '../../src/lib/last-resort.js';
import { guardRequests, guardServer } from '../../src/lib/server-guard.js';

function status(server: Server, path: string): Promise<number> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).once('error', reject);
  });
}

describe('guarded servers', () => {
  const reports: string[] = [];
  const server = createServer(
    guardRequests(
      (request, response) => {
        if (request.url === '/throw') throw new Error('sync');
        if (request.url === '/reject') return Promise.reject(new Error('async'));
        response.end('fine');
        return undefined;
      },
      (error, where) => reports.push(`${where}: ${(error as Error).message}`),
      { status: 500, body: { code: 'INTERNAL', message: 'failed' } },
    ),
  );
  after(() => server.close());

  test('a throw or a rejection of a handler is reported and answered 500', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    guardServer(server, (error, where) => reports.push(`${where}: ${(error as Error).message}`));
    assert.equal(await status(server, '/throw'), 500);
    assert.equal(await status(server, '/reject'), 500);
    assert.equal(await status(server, '/'), 200);
    assert.deepEqual(reports, ['GET request: sync', 'GET request: async']);
    server.emit('error', new Error('accept failed'));
    assert.equal(reports.at(-1), 'server: accept failed');
  });

  test('keepAlive logs what reached the process and can be removed', () => {
    const target = new EventEmitter();
    const logged: string[] = [];
    const remove = keepAlive(target, {
      error: (details) => logged.push(`${details.kind}: ${(details.err as Error).message}`),
    });
    target.emit('uncaughtException', new Error('one'));
    target.emit('unhandledRejection', new Error('two'));
    assert.deepEqual(logged, ['uncaughtException: one', 'unhandledRejection: two']);
    remove();
    assert.equal(target.listenerCount('uncaughtException'), 0);
    assert.equal(target.listenerCount('unhandledRejection'), 0);
  });
});
