/**
 * What the front and the admin listener answer when they refuse a request themselves: each
 * refusal's status, body and headers, pinned so that moving them onto core/errors' one shape
 * changes nothing a visitor sees. Real servers on loopback, no daemon.
 */
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppvisorError } from '../../src/core/errors/index.js';
import {
  AdminListener,
  Front,
  instanceResolver,
  type InstanceTarget,
} from '../../src/core/front/index.js';
import { createLogger } from '../../src/lib/logger.js';

const logger = createLogger({ level: 'silent', file: { write: () => undefined } });
const uid = process.getuid?.() ?? 0;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

function ask(port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (answer) => {
        let text = '';
        answer.setEncoding('utf8');
        answer.on('data', (chunk: string) => (text += chunk));
        answer.once('end', () => {
          resolve({
            status: answer.statusCode ?? 0,
            headers: answer.headers,
            body: text === '' ? undefined : (JSON.parse(text) as unknown),
          });
        });
      },
    );
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}

function portOf(front: Front): number {
  return front.addresses()[0]!.port;
}

describe("the front's own answers", () => {
  let folder = '';
  let badService: Server;
  const front = new Front({
    http: { host: '127.0.0.1', port: 0 },
    https: { enabled: false, host: '127.0.0.1', port: 0 },
    logger,
    closeGraceMs: 100,
  });
  const database = { state: 'running' };

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'front-errors-'));
    // A service that answers status 99: Node's client reads it, its server cannot write it.
    badService = createServer((socket) => {
      socket.once('data', () => {
        socket.end('HTTP/1.1 099 Early\r\ncontent-length: 2\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => badService.listen(join(folder, 'bad.sock'), resolve));
    await front.bind();
  });

  after(async () => {
    await front.close();
    badService.close();
    await rm(folder, { recursive: true, force: true });
  });

  test('before the start: 503 STARTING with Retry-After', async () => {
    const answer = await ask(portOf(front), 'GET', '/anything');
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '2');
    assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(answer.body, { code: 'STARTING', message: 'the manager is starting' });
  });

  test('after the start, the refusals keep their status, code, message and headers', async () => {
    const targets: Record<string, Omit<InstanceTarget, 'socketOwner'>> = {
      '/down': { id: 'down', socket: null, ready: false, path: '/down' },
      '/bad': { id: 'bad', socket: join(folder, 'bad.sock'), ready: true, path: '/bad' },
      '/gone': { id: 'gone', socket: join(folder, 'none.sock'), ready: true, path: '/gone' },
    };
    const fromInstances = instanceResolver({
      instances: {
        resolve: (path) =>
          path.startsWith('/db') ? { id: 'db', app: 'a', path: '/db', ready: true } : undefined,
      },
      apps: {
        httpSocketOf: () => join(folder, 'bad.sock'),
        ownerOf: () => ({ uid }),
        handoffOf: () => undefined,
        staticDirOf: () => undefined,
      },
      database,
      ownUid: uid,
    });
    front.setInstanceResolver((path) => {
      if (path === '/throw') throw new Error('a resolver bug');
      const target = targets[path];
      return target ? { ...target, socketOwner: uid } : fromInstances(path);
    });
    front.setGrantExchange((token) => {
      if (token === 'good') return { login: 'signed' };
      if (token === 'boom') throw new Error('a bug with secrets in it');
      throw new AppvisorError('UNAUTHORIZED', 'the grant is unknown or expired');
    });
    await front.start();
    const port = portOf(front);

    // path, status, Retry-After, body
    const cases: [string, number, string | undefined, object][] = [
      [
        '/nothing?x=1',
        404,
        undefined,
        { code: 'NOT_FOUND', message: 'nothing is served at /nothing' },
      ],
      ['/down', 503, '2', { code: 'INSTANCE_UNAVAILABLE', message: 'instance down is not ready' }],
      [
        '/gone',
        503,
        '2',
        { code: 'INSTANCE_UNAVAILABLE', message: 'the service of instance gone did not answer' },
      ],
      [
        '/bad',
        502,
        undefined,
        {
          code: 'INSTANCE_UNAVAILABLE',
          message: 'the service of instance bad sent an answer that cannot be relayed',
        },
      ],
      [
        '/db/page',
        503,
        '2',
        {
          code: 'DATABASE_UNAVAILABLE',
          message: 'the database server is restarting; retry shortly',
        },
      ],
      [
        '/throw',
        500,
        undefined,
        { code: 'INTERNAL', message: 'An unexpected error happened; see the manager log.' },
      ],
    ];
    for (const [path, status, retryAfter, body] of cases) {
      database.state = path.startsWith('/db') ? 'restarting' : 'running';
      const answer = await ask(port, 'GET', path);
      assert.equal(answer.status, status, path);
      assert.equal(answer.headers['retry-after'], retryAfter, path);
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/, path);
      assert.deepEqual(answer.body, body, path);
    }
    database.state = 'running';
    // A handler's throw is answered by the guard, which closes the connection.
    assert.equal((await ask(port, 'GET', '/throw')).headers.connection, 'close');
  });

  test('the grant login answers each refusal in the one shape, never stored', async () => {
    const port = portOf(front);
    const login = '/.appvisor/login';
    const notJson = { code: 'BAD_REQUEST', message: 'the body must be JSON: {token, challenge}' };
    const refused = { code: 'UNAUTHORIZED', message: 'the grant is unknown or expired' };
    const failed = { code: 'INTERNAL', message: 'the login could not be made' };
    const cases: [string, string | undefined, number, object][] = [
      ['GET', undefined, 405, { code: 'BAD_REQUEST', message: 'use POST' }],
      ['POST', 'x'.repeat(5000), 413, { code: 'BAD_REQUEST', message: 'the body is too large' }],
      ['POST', 'not json', 400, notJson],
      ['POST', '{"token":"good"}', 400, notJson],
      ['POST', '{"token":"old","challenge":"c"}', 401, refused],
      ['POST', '{"token":"boom","challenge":"c"}', 500, failed],
      ['POST', '{"token":"good","challenge":"c"}', 200, { login: 'signed' }],
    ];
    for (const [method, body, status, expected] of cases) {
      const answer = await ask(port, method, login, body);
      const what = `${method} ${body?.slice(0, 40) ?? ''}`;
      assert.equal(answer.status, status, what);
      assert.deepEqual(answer.body, expected, what);
      assert.equal(answer.headers['cache-control'], 'no-store', what);
      // The rest of a body too large is never read: a connection kept for another request
      // would be cut under it.
      if (status === 413) assert.equal(answer.headers.connection, 'close', what);
    }
  });

  test('a 405 says which method the login takes (Allow)', async () => {
    const answer = await ask(portOf(front), 'GET', '/.appvisor/login');
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.allow, 'POST');
  });
});

describe("the admin listener's own answers", () => {
  const listener = new AdminListener({ host: '127.0.0.1', port: 0, tls: false, logger });

  before(() => listener.bind());
  after(() => listener.close());

  test('503 STARTING until the API is there, then 404 NOT_FOUND outside /manager', async () => {
    const port = listener.address()!.port;
    const starting = await ask(port, 'GET', '/manager/api/status');
    assert.equal(starting.status, 503);
    assert.deepEqual(starting.body, { code: 'STARTING', message: 'the manager is starting' });
    listener.setHandler((_request, response) => {
      response.end('api');
    });
    const elsewhere = await ask(port, 'GET', '/elsewhere');
    assert.equal(elsewhere.status, 404);
    assert.deepEqual(elsewhere.body, {
      code: 'NOT_FOUND',
      message: 'nothing is served at /elsewhere',
    });
  });
});
