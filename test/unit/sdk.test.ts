import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { fork } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { WebSocket } from 'ws';
import {
  createService,
  HttpError,
  type Channel,
  type Instance,
  type InstanceHandlers,
  type InstanceInfo,
  type Service,
  type ServiceDefinition,
} from '../../src/sdk/index.js';

type Sent = Record<string, unknown> & { type: string };

/** An in-memory channel: records what the service sends, delivers what the test says. */
class FakeChannel implements Channel {
  readonly sent: Sent[] = [];
  readonly #listeners: ((message: unknown, handle?: unknown) => void)[] = [];
  readonly #closeListeners: (() => void)[] = [];
  readonly #waiters: (() => void)[] = [];
  /** Called synchronously inside send, before anything else runs. */
  onSend: ((message: Sent) => void) | undefined;

  send(message: object): void {
    const sent = message as Sent;
    this.sent.push(sent);
    this.onSend?.(sent);
    for (const wake of this.#waiters.splice(0)) wake();
  }
  onMessage(listener: (message: unknown, handle?: unknown) => void): void {
    this.#listeners.push(listener);
  }
  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }
  deliver(message: unknown, handle?: unknown): void {
    for (const listener of this.#listeners) listener(message, handle);
  }
  close(): void {
    for (const listener of this.#closeListeners) listener();
  }
  /** Messages of one type (optionally for one id or instance). */
  of(type: string, id?: string): Sent[] {
    return this.sent.filter(
      (m) => m.type === type && (id === undefined || m.id === id || m.instance === id),
    );
  }
  /** Waits until `count` messages of the type (and id) were sent; returns the last of them. */
  async waitFor(type: string, id?: string, count = 1): Promise<Sent> {
    const found = await this.waitUntil(
      () => this.of(type, id).length >= count,
      `${type}${id ? ` for ${id}` : ''} (#${count})`,
    );
    assert.ok(found);
    return this.of(type, id)[count - 1]!;
  }
  /** Waits until `done()` holds, checking after every message sent; fails after 5 s. */
  async waitUntil(done: () => boolean, what: string, timeoutMs = 5_000): Promise<true> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0)
        assert.fail(`no ${what} within ${timeoutMs} ms; sent: ${JSON.stringify(this.sent)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}

function info(id: string, overrides: Partial<InstanceInfo> = {}): InstanceInfo {
  return {
    id,
    app: 'echo',
    domain: 'example.com',
    path: `/example.com/${id}`,
    password: `pw-${id}`,
    enabled: true,
    traceFlags: [],
    dataDir: `/tmp/nowhere/${id}`,
    database: {
      host: '127.0.0.1',
      port: 1,
      database: `i_${id}`,
      user: `i_${id}`,
      password: 'db-secret',
      url: `postgres://i_${id}:db-secret@127.0.0.1:1/i_${id}`,
    },
    ...overrides,
  };
}

interface Setup {
  channel: FakeChannel;
  service: Service;
  socket: string;
  dir: string;
}

/** A service on a fresh socket in a temp folder, closed after the test; resolves once ready. */
async function setup(
  t: TestContext,
  definition: ServiceDefinition,
  prepare?: (channel: FakeChannel, socket: string) => Promise<void> | void,
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'appvisor-sdk-'));
  const socket = join(dir, 'http.sock');
  const channel = new FakeChannel();
  await prepare?.(channel, socket);
  const service = createService(definition, { channel, httpSocket: socket, exitOnShutdown: false });
  t.after(async () => {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  });
  await channel.waitFor('ready');
  return { channel, service, socket, dir };
}

/** Starts an instance and waits for its answer (instance.ready or instance.failed). */
async function start(channel: FakeChannel, instance: InstanceInfo): Promise<Sent> {
  const before = channel.sent.length;
  const answer = () =>
    channel.sent
      .slice(before)
      .find(
        (m) =>
          m.id === instance.id && (m.type === 'instance.ready' || m.type === 'instance.failed'),
      );
  channel.deliver({ type: 'instance.start', instance });
  await channel.waitUntil(() => answer() !== undefined, `answer to the start of ${instance.id}`);
  return answer()!;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(socketPath: string, path: string, instance?: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath,
        path,
        method,
        headers: instance === undefined ? {} : { 'x-appvisor-instance': instance },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Resolves the next tick after every pending promise callback ran. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Handlers that answer with the instance's id and the request URL. */
const whoAmIHandlers: InstanceHandlers = {
  http(request, response, instance) {
    response.end(`${instance.id} ${instance.domain} ${request.url ?? ''}`);
  },
};
const whoAmI: ServiceDefinition = { start: () => whoAmIHandlers };

describe('createService: ready and HTTP dispatch', () => {
  test('says ready only once the socket listens, after removing a stale file', async (t) => {
    let connected: Promise<void> | undefined;
    const { channel, socket } = await setup(t, whoAmI, async (channel, socket) => {
      await writeFile(socket, 'left over by a crashed run');
      channel.onSend = (message) => {
        if (message.type !== 'ready') return;
        // Connect in the very tick the message is sent.
        connected = new Promise((resolve, reject) => {
          const client = connect(socket, () => {
            client.destroy();
            resolve();
          });
          client.on('error', reject);
        });
      };
    });
    assert.deepEqual(channel.sent[0], { type: 'ready', httpSocket: socket, handoff: true });
    assert.equal(channel.sent.length, 1);
    assert.ok(connected);
    await connected;
  });

  test('httpSocket null: no server, ready says null', async (t) => {
    const channel = new FakeChannel();
    const service = createService(whoAmI, { channel, httpSocket: null, exitOnShutdown: false });
    t.after(() => service.close());
    assert.deepEqual(await channel.waitFor('ready'), {
      type: 'ready',
      httpSocket: null,
      handoff: false,
    });
  });

  test('the socket path comes from APPVISOR_HTTP_SOCKET by default', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'appvisor-sdk-'));
    const socket = join(dir, 'env.sock');
    const channel = new FakeChannel();
    const service = createService(whoAmI, {
      channel,
      env: { APPVISOR_HTTP_SOCKET: socket },
      exitOnShutdown: false,
    });
    t.after(async () => {
      await service.close();
      await rm(dir, { recursive: true, force: true });
    });
    assert.deepEqual(await channel.waitFor('ready'), {
      type: 'ready',
      httpSocket: socket,
      handoff: true,
    });
    assert.ok(existsSync(socket));
  });

  test('dispatches by x-appvisor-instance; unknown or missing instance is 404', async (t) => {
    const { channel, socket } = await setup(t, whoAmI);
    assert.equal((await start(channel, info('a'))).type, 'instance.ready');
    assert.equal((await start(channel, info('b', { domain: 'other.org' }))).type, 'instance.ready');

    const a = await get(socket, '/example.com/a/x?y=1', 'a');
    assert.equal(a.status, 200);
    assert.equal(a.body, 'a example.com /example.com/a/x?y=1');
    const b = await get(socket, '/example.com/b/', 'b');
    assert.equal(b.body, 'b other.org /example.com/b/');

    for (const name of ['zzz', undefined]) {
      const missing = await get(socket, '/x', name);
      assert.equal(missing.status, 404);
      assert.match(String(missing.headers['content-type']), /^application\/json/);
      const body = JSON.parse(missing.body) as { code: string; message: string };
      assert.equal(body.code, 'INSTANCE_NOT_FOUND');
      assert.equal(typeof body.message, 'string');
    }
  });

  test('an instance that is starting answers 503 with Retry-After: 1, then serves', async (t) => {
    const gate = deferred();
    const { channel, socket } = await setup(t, {
      async start() {
        await gate.promise;
        return whoAmIHandlers;
      },
    });
    channel.deliver({ type: 'instance.start', instance: info('slow') });
    await settle();
    const early = await get(socket, '/', 'slow');
    assert.equal(early.status, 503);
    assert.equal(early.headers['retry-after'], '1');
    // The front's code for the same case (docs/errors.md): a visitor sees one code.
    assert.equal((JSON.parse(early.body) as { code: string }).code, 'INSTANCE_UNAVAILABLE');
    assert.equal(channel.of('instance.ready').length, 0);

    gate.resolve();
    await channel.waitFor('instance.ready', 'slow');
    assert.equal((await get(socket, '/', 'slow')).status, 200);
  });

  test('a throwing or rejecting handler is 500 without its text, logged to the instance', async (t) => {
    const { channel, socket } = await setup(t, {
      start: (instance) => ({
        http(request) {
          if (request.url === '/sync') throw new Error(`secret detail of ${instance.id}`);
          return Promise.reject(new Error('another secret'));
        },
      }),
    });
    await start(channel, info('a'));
    for (const [path, secret] of [
      ['/sync', 'secret detail of a'],
      ['/async?token=hidden', 'another secret'],
    ] as const) {
      const answer = await get(socket, path, 'a');
      assert.equal(answer.status, 500);
      assert.ok(!answer.body.includes(secret), answer.body);
      assert.equal((JSON.parse(answer.body) as { code: string }).code, 'INTERNAL');
      const line = channel.of('log', 'a').find((m) => String(m.text).includes(secret));
      assert.ok(line, `no log line with "${secret}"`);
      assert.equal(line.flag, null);
      assert.ok(!String(line.text).includes('token=hidden'), 'the query stays out of the log');
    }
  });

  test('handlers get the path inside the instance; url stays whole; an HttpError is its status', async (t) => {
    const { channel, socket } = await setup(t, {
      start: () => ({
        http(request, response) {
          if (request.path === '/gone') throw new HttpError(410, 'GONE', 'moved away');
          response.end(`${request.path} ${request.query.get('q') ?? '-'} ${request.url ?? ''}`);
        },
      }),
    });
    await start(channel, info('a'));
    assert.equal((await get(socket, '/example.com/a', 'a')).body, '/ - /example.com/a');
    assert.equal(
      (await get(socket, '/example.com/a/x/y?q=1', 'a')).body,
      '/x/y 1 /example.com/a/x/y?q=1',
    );
    const gone = await get(socket, '/example.com/a/gone', 'a');
    assert.equal(gone.status, 410);
    assert.deepEqual(JSON.parse(gone.body), { code: 'GONE', message: 'moved away' });
    assert.equal(channel.of('log', 'a').length, 0, 'an HttpError is an answer, not a failure');
  });

  test('an instance without an http handler is 404', async (t) => {
    const { channel, socket } = await setup(t, { start: () => ({}) });
    await start(channel, info('quiet'));
    const answer = await get(socket, '/', 'quiet');
    assert.equal(answer.status, 404);
    assert.equal((JSON.parse(answer.body) as { code: string }).code, 'NOT_FOUND');
  });
});

describe('createService: instance lifecycle', () => {
  test('a failed start sends instance.failed, is not routed, and leaves others alone', async (t) => {
    const { channel, socket, service } = await setup(t, {
      async start(instance) {
        if (instance.id === 'bad') {
          assert.equal(instance.db.totalCount, 0);
          throw new Error('no table');
        }
        await settle();
        return whoAmIHandlers;
      },
    });
    channel.deliver({ type: 'instance.start', instance: info('good') });
    channel.deliver({ type: 'instance.start', instance: info('bad') });
    assert.deepEqual(await channel.waitFor('instance.failed', 'bad'), {
      type: 'instance.failed',
      id: 'bad',
      error: 'no table',
    });
    await channel.waitFor('instance.ready', 'good');
    assert.equal(channel.of('instance.ready', 'bad').length, 0);
    assert.equal((await get(socket, '/', 'bad')).status, 404);
    assert.equal((await get(socket, '/', 'good')).status, 200);
    assert.deepEqual([...service.instances.keys()], ['good']);
  });

  test('messages of one instance run in order; other instances do not wait', async (t) => {
    const gate = deferred();
    const order: string[] = [];
    const { channel } = await setup(t, {
      async start(instance) {
        if (instance.id === 'slow') await gate.promise;
        order.push(`start ${instance.id}`);
        return {
          update: () => {
            order.push(`update ${instance.id} ${instance.domain}`);
          },
          stop: () => {
            order.push(`stop ${instance.id}`);
          },
        };
      },
    });
    channel.deliver({ type: 'instance.start', instance: info('slow') });
    channel.deliver({ type: 'instance.update', instance: info('slow', { domain: 'new.org' }) });
    channel.deliver({ type: 'instance.stop', id: 'slow' });
    channel.deliver({ type: 'instance.start', instance: info('fast') });
    await channel.waitFor('instance.ready', 'fast');
    assert.deepEqual(order, ['start fast']);

    gate.resolve();
    await channel.waitFor('instance.stopped', 'slow');
    assert.deepEqual(order, ['start fast', 'start slow', 'update slow new.org', 'stop slow']);
    const kinds = channel.sent.filter((m) => m.id === 'slow').map((m) => m.type);
    assert.deepEqual(kinds, ['instance.ready', 'instance.stopped']);
  });

  test('a second instance.start for a running id applies the values and says ready again', async (t) => {
    let starts = 0;
    const updated: string[] = [];
    const { channel, service } = await setup(t, {
      start() {
        starts++;
        return {
          update(instance) {
            updated.push(instance.path);
          },
        };
      },
    });
    await start(channel, info('a'));
    channel.deliver({ type: 'instance.start', instance: info('a', { path: '/moved' }) });
    await channel.waitFor('instance.ready', 'a', 2);
    assert.equal(starts, 1);
    assert.deepEqual(updated, ['/moved']);
    assert.equal(service.instances.get('a')?.path, '/moved');
  });

  test('instance.update of an unknown id is ignored', async (t) => {
    const { channel } = await setup(t, whoAmI);
    channel.deliver({ type: 'instance.update', instance: info('ghost') });
    await settle();
    assert.deepEqual(
      channel.sent.map((m) => m.type),
      ['ready'],
    );
  });

  test('instance.stop calls stop, ends the pool, forgets it and answers instance.stopped', async (t) => {
    const stopped: string[] = [];
    let kept: Instance | undefined;
    const { channel, socket, service } = await setup(t, {
      start(instance) {
        kept = instance;
        return {
          ...whoAmIHandlers,
          async stop(stopping) {
            await settle();
            // The pool is still usable inside the stop handler.
            assert.ok(stopping.db instanceof pg.Pool);
            stopped.push(stopping.id);
          },
        };
      },
    });
    await start(channel, info('a'));
    const pool = kept!.db;
    channel.deliver({ type: 'instance.stop', id: 'a' });
    await channel.waitFor('instance.stopped', 'a');
    assert.deepEqual(stopped, ['a']);
    assert.equal(pool.ended, true);
    assert.throws(() => kept!.db, /stopped/);
    assert.equal(service.instances.has('a'), false);
    assert.equal((await get(socket, '/', 'a')).status, 404);

    channel.deliver({ type: 'instance.stop', id: 'never-started' });
    assert.deepEqual(await channel.waitFor('instance.stopped', 'never-started'), {
      type: 'instance.stopped',
      id: 'never-started',
    });
  });
});

describe('createService: the Instance API', () => {
  test('db is a lazy pg.Pool, replaced (the old one ended) when the credentials change', async (t) => {
    const { channel, service } = await setup(t, { start: () => ({ update() {} }) });
    await start(channel, info('a'));
    const instance = service.instances.get('a')!;
    const first = instance.db;
    assert.ok(first instanceof pg.Pool);
    assert.equal(first.totalCount, 0, 'no connection before first use');
    assert.equal(instance.db, first, 'the same pool while nothing changes');
    assert.equal(first.options.max, 3);
    assert.equal(first.options.idleTimeoutMillis, 10_000);

    channel.deliver({ type: 'instance.update', instance: info('a', { domain: 'same-db.org' }) });
    await settle();
    assert.equal(instance.domain, 'same-db.org');
    assert.equal(instance.db, first, 'other changes keep the pool');

    const moved = info('a');
    moved.database = { ...moved.database, password: 'rotated' };
    channel.deliver({ type: 'instance.update', instance: moved });
    await settle();
    const second = instance.db;
    assert.notEqual(second, first);
    assert.equal(first.ended, true);
    assert.equal(second.ended, false);
    assert.equal(second.totalCount, 0);
    assert.equal(second.options.password, 'rotated');
    assert.equal(instance.database.password, 'rotated');
  });

  test('trace writes only when the flag is on; flags change live with instance.update', async (t) => {
    const updates: string[][] = [];
    const { channel, service } = await setup(t, {
      start: () => ({
        update(instance) {
          updates.push([...instance.traceFlags]);
        },
      }),
    });
    await start(channel, info('a', { traceFlags: ['app'] }));
    const instance = service.instances.get('a')!;
    instance.trace('app', 'count', 3, { x: [1] }, null);
    instance.trace('database', 'SELECT 1');
    assert.deepEqual(channel.of('log', 'a'), [
      { type: 'log', instance: 'a', flag: 'app', text: 'count 3 {"x":[1]} null' },
    ]);

    channel.deliver({ type: 'instance.update', instance: info('a', { traceFlags: ['database'] }) });
    await settle();
    assert.deepEqual(updates, [['database']]);
    assert.deepEqual([...instance.traceFlags], ['database']);
    instance.trace('app', 'silent now');
    instance.trace('database', 'SELECT', 2);
    assert.deepEqual(channel.of('log', 'a').slice(1), [
      { type: 'log', instance: 'a', flag: 'database', text: 'SELECT 2' },
    ]);
  });

  test('log, event and alarm send their messages', async (t) => {
    const { channel, service } = await setup(t, { start: () => ({}) });
    await start(channel, info('a'));
    const instance = service.instances.get('a')!;
    const error = new Error('broken');
    const circular: Record<string, unknown> = { n: 1n };
    circular.self = circular;
    instance.log('hello', error, undefined, circular);
    instance.event('import.done', 'info', '12 rows imported');
    instance.alarm('pbx-unreachable', 'error', 'the PBX does not answer', true);
    instance.alarm('pbx-unreachable', 'error', 'the PBX answers again', false);

    const line = channel.of('log', 'a')[0]!;
    assert.equal(line.flag, null);
    assert.ok(String(line.text).startsWith(`hello ${error.stack ?? ''} undefined `));
    assert.match(String(line.text), /self: \[Circular/);
    assert.deepEqual(channel.of('event', 'a'), [
      {
        type: 'event',
        instance: 'a',
        kind: 'import.done',
        severity: 'info',
        text: '12 rows imported',
      },
    ]);
    assert.deepEqual(channel.of('alarm', 'a'), [
      {
        type: 'alarm',
        instance: 'a',
        code: 'pbx-unreachable',
        severity: 'error',
        text: 'the PBX does not answer',
        active: true,
      },
      {
        type: 'alarm',
        instance: 'a',
        code: 'pbx-unreachable',
        severity: 'error',
        text: 'the PBX answers again',
        active: false,
      },
    ]);
  });
});

describe('createService: WebSocket', () => {
  test('a round trip through the socket, closed with 1001 when the instance stops', async (t) => {
    const { channel, socket } = await setup(t, {
      start: (instance) => ({
        websocket(ws, request) {
          ws.send(`hello from ${instance.id} at ${request.url ?? ''} (${request.path})`);
          ws.on('message', (data, isBinary) => {
            ws.send(data, { binary: isBinary });
          });
        },
      }),
    });
    await start(channel, info('a'));
    const ws = new WebSocket(`ws+unix://${socket}:/example.com/a/ws`, {
      headers: { 'x-appvisor-instance': 'a' },
    });
    t.after(() => {
      ws.terminate();
    });
    const received: string[] = [];
    const closed = new Promise<number>((resolve) => ws.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        received.push(data.toString());
        if (received.length === 1) ws.send('ping 1');
        if (received.length === 2) resolve();
      });
      ws.on('error', reject);
    });
    assert.deepEqual(received, ['hello from a at /example.com/a/ws (/ws)', 'ping 1']);

    channel.deliver({ type: 'instance.stop', id: 'a' });
    assert.equal(await closed, 1001);
  });

  test('an upgrade for an unknown instance or one without a handler gets 404', async (t) => {
    const { channel, socket } = await setup(t, { start: () => ({}) });
    await start(channel, info('plain'));
    for (const name of ['nobody', 'plain']) {
      const ws = new WebSocket(`ws+unix://${socket}:/x`, {
        headers: { 'x-appvisor-instance': name },
      });
      const status = await new Promise<number>((resolve, reject) => {
        ws.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          response.resume();
        });
        ws.on('open', () => {
          reject(new Error('opened'));
        });
        // ws reports the refusal as an error too, after 'unexpected-response'.
        ws.on('error', reject);
      });
      assert.equal(status, 404, name);
      ws.terminate();
    }
  });
});

/**
 * A connected TCP pair on loopback whose server side has not read a byte: what the manager holds
 * after it stopped reading an upgrade request and before it hands the socket over.
 */
async function unreadPair(t: TestContext): Promise<{ client: Socket; server: Socket }> {
  const listener = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as { port: number };
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  const client = connect(port, '127.0.0.1');
  const server = await accepted;
  listener.close();
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  return { client, server };
}

/** One masked text frame, as a client sends it. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  return Buffer.concat([
    Buffer.from([0x81, 0x80 | payload.length]),
    mask,
    Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!)),
  ]);
}

/** Reads from `client` until the response head and one short server frame have arrived. */
function readHandshakeAndFrame(client: Socket): Promise<{ head: string; text: string }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      reject(new Error(`incomplete: ${received.toString('latin1')}`));
    }, 5_000);
    client.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = received.subarray(0, end).toString('latin1');
      const body = received.subarray(end + 4);
      if (!head.startsWith('HTTP/1.1 101')) {
        clearTimeout(timer);
        resolve({ head, text: '' });
        return;
      }
      if (body.length < 2 || body.length < 2 + (body[1]! & 0x7f)) return;
      clearTimeout(timer);
      resolve({ head, text: body.subarray(2, 2 + (body[1]! & 0x7f)).toString() });
    });
  });
}

function upgradeMessage(instance: string, head: Buffer = Buffer.alloc(0)): object {
  return {
    type: 'upgrade',
    instance,
    method: 'GET',
    url: `/example.com/${instance}/ws`,
    headers: {
      host: '127.0.0.1',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': randomBytes(16).toString('base64'),
      'sec-websocket-version': '13',
      'x-appvisor-instance': instance,
    },
    head: head.toString('base64'),
  };
}

describe('createService: sockets handed over by the manager', () => {
  const echo: ServiceDefinition = {
    start: () => ({
      websocket(ws, request) {
        ws.on('message', (data: Buffer) => {
          ws.send(`${request.url ?? ''} ${data.toString()}`);
        });
      },
    }),
  };

  test('completes the handshake on the passed socket; a frame sent before the 101 is kept', async (t) => {
    const { channel } = await setup(t, echo);
    await start(channel, info('h'));
    const { client, server } = await unreadPair(t);
    const answer = readHandshakeAndFrame(client);
    // The frame waits unread in the socket's kernel buffer when the service takes it over.
    client.write(clientFrame('early'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    channel.deliver(upgradeMessage('h'), server);
    const { head, text } = await answer;
    assert.match(head, /^HTTP\/1\.1 101/);
    assert.equal(text, '/example.com/h/ws early');
  });

  test('bytes the manager read past the request head arrive first, in order', async (t) => {
    const { channel } = await setup(t, echo);
    await start(channel, info('h'));
    const { client, server } = await unreadPair(t);
    const frames: string[] = [];
    let received = Buffer.alloc(0);
    const two = new Promise<void>((resolve) => {
      client.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        let body = received.subarray(received.indexOf('\r\n\r\n') + 4);
        frames.length = 0;
        while (body.length >= 2 && body.length >= 2 + (body[1]! & 0x7f)) {
          frames.push(body.subarray(2, 2 + (body[1]! & 0x7f)).toString());
          body = body.subarray(2 + (body[1]! & 0x7f));
        }
        if (frames.length === 2) resolve();
      });
    });
    client.write(clientFrame('second'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    channel.deliver(upgradeMessage('h', clientFrame('first')), server);
    await two;
    assert.deepEqual(frames, ['/example.com/h/ws first', '/example.com/h/ws second']);
  });

  test('a handoff for an unknown instance is refused with 404 on that socket', async (t) => {
    const { channel } = await setup(t, echo);
    const { client, server } = await unreadPair(t);
    const answer = readHandshakeAndFrame(client);
    channel.deliver(upgradeMessage('nobody'), server);
    assert.match((await answer).head, /^HTTP\/1\.1 404/);
  });

  test('an upgrade message without a socket is reported, not fatal', async (t) => {
    const { channel, socket } = await setup(t, echo);
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    try {
      channel.deliver(upgradeMessage('h'));
      await settle();
    } finally {
      process.stderr.write = write;
    }
    assert.ok(
      lines.some((l) => l.includes('no socket')),
      lines.join(''),
    );
    await start(channel, info('h'));
    assert.equal((await get(socket, '/', 'h')).status, 404, 'still serving (no http handler)');
  });
});

describe('createService: shutdown and malformed messages', () => {
  test('shutdown stops every instance and removes the socket file', async (t) => {
    const stopped: string[] = [];
    const { channel, socket, service } = await setup(t, {
      start: () => ({
        async stop(instance) {
          await settle();
          stopped.push(instance.id);
        },
      }),
    });
    await start(channel, info('a'));
    await start(channel, info('b'));
    assert.ok(existsSync(socket));
    channel.deliver({ type: 'shutdown' });
    await service.close();
    assert.deepEqual(stopped.sort(), ['a', 'b']);
    assert.equal(channel.of('instance.stopped').length, 2);
    assert.equal(service.instances.size, 0);
    assert.equal(existsSync(socket), false);

    // After a shutdown, no new instance starts.
    channel.deliver({ type: 'instance.start', instance: info('late') });
    assert.equal((await channel.waitFor('instance.failed', 'late')).type, 'instance.failed');
  });

  test('the channel closing shuts the service down too', async (t) => {
    const stopped: string[] = [];
    const { channel, socket, service } = await setup(t, {
      start: () => ({
        stop(instance) {
          stopped.push(instance.id);
        },
      }),
    });
    await start(channel, info('a'));
    channel.close();
    await service.close();
    assert.deepEqual(stopped, ['a']);
    assert.equal(existsSync(socket), false);
  });

  test('malformed messages are ignored and reported once to stderr', async (t) => {
    const { channel, socket } = await setup(t, whoAmI);
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    try {
      const bad = info('x');
      const badPort = { ...info('y'), database: { ...info('y').database, port: 'five' } };
      for (const message of [
        null,
        'instance.start',
        42,
        [],
        { type: 'nope' },
        { type: 'nope' },
        { type: 'instance.start' },
        { type: 'instance.start', instance: { ...bad, id: '' } },
        { type: 'instance.start', instance: { ...bad, traceFlags: 'app' } },
        { type: 'instance.start', instance: badPort },
        { type: 'instance.stop', id: 7 },
      ]) {
        channel.deliver(message);
      }
      await settle();
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(
      channel.sent.map((m) => m.type),
      ['ready'],
    );
    assert.equal(lines.filter((l) => l.includes('"nope"')).length, 1, lines.join(''));
    assert.ok(lines.some((l) => l.includes('database.port')));
    assert.ok(!lines.some((l) => l.includes('db-secret')), 'no secret in the report');

    // The service still works.
    await start(channel, info('ok'));
    assert.equal((await get(socket, '/', 'ok')).status, 200);
  });
});

describe('createService: in a child process with an IPC channel', () => {
  /** A service script using every default: the process channel, env, exit on shutdown. */
  const script = (sdk: string) => `
const { createService } = await import(${JSON.stringify(sdk)});
createService({
  start: (instance) => ({
    http(request, response) { response.end('hi from ' + instance.id); },
    stop(instance) { instance.log('stopping', instance.id); },
  }),
});
`;

  for (const how of ['shutdown', 'SIGTERM', 'disconnect'] as const) {
    test(`ends with exit code 0 after ${how}, its socket removed`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'appvisor-sdk-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const socket = join(dir, 'http.sock');
      const main = join(dir, 'main.mjs');
      const sdk = new URL('../../src/sdk/index.js', import.meta.url).href;
      await writeFile(main, script(sdk));
      const child = fork(main, [], {
        serialization: 'json',
        env: { PATH: process.env.PATH, APPVISOR_HTTP_SOCKET: socket },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      t.after(() => child.kill('SIGKILL'));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const received: Sent[] = [];
      const waitFor = (type: string) =>
        new Promise<Sent>((resolve) => {
          const found = received.find((m) => m.type === type);
          if (found) resolve(found);
          else {
            child.on('message', (message: Sent) => {
              if (message.type === type) resolve(message);
            });
          }
        });
      child.on('message', (message: Sent) => received.push(message));

      assert.deepEqual(await waitFor('ready'), {
        type: 'ready',
        httpSocket: socket,
        handoff: true,
      });
      child.send({ type: 'instance.start', instance: info('a') });
      await waitFor('instance.ready');
      assert.equal((await get(socket, '/', 'a')).body, 'hi from a');

      if (how === 'shutdown') child.send({ type: 'shutdown' });
      else if (how === 'SIGTERM') child.kill('SIGTERM');
      else child.disconnect();
      assert.equal(await exited, 0);
      assert.equal(existsSync(socket), false);
      if (how !== 'disconnect') {
        assert.ok(received.some((m) => m.type === 'log' && m.text === 'stopping a'));
        assert.ok(received.some((m) => m.type === 'instance.stopped' && m.id === 'a'));
      }
    });
  }
});
