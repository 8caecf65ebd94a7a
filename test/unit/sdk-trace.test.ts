/**
 * The SDK's own tracing, against a real PostgreSQL: each platform flag it serves (`database`,
 * `app-websocket`, `webserver`, `webserver-traffic`) writes its lines while on and none while
 * off, switched live; no secret reaches a trace line with every flag on; and
 * `instance.transaction` commits, rolls back and releases its client.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EmbeddedPostgres } from '../../src/core/database/index.js';
import {
  appWebsocket,
  createService,
  type Channel,
  type Instance,
  type InstanceInfo,
  type Service,
} from '../../src/sdk/index.js';
import { AppWebsocketClient as Client } from '../../src/sdk/testing/index.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';
import {
  makeInstanceDatabase,
  startPostgres,
  type TestDatabase,
} from '../helpers/embedded-postgres.js';

const sdkFlags = ['database', 'app-websocket', 'webserver', 'webserver-traffic'];
const instancePassword = 'instance-pass-7f3a';
const databasePassword = 'database-pass-91c2';
const paramSecret = 'param-secret-5d1e';
const cookieSecret = 'cookie-secret-c0de';
const authSecret = 'auth-secret-a11b';
const querySecret = 'query-secret-3e4f';

interface LogLine {
  flag: string | null;
  text: string;
}

/** A channel that keeps the log lines and wakes waiters on every message. */
class LogChannel implements Channel {
  readonly lines: LogLine[] = [];
  readonly types: string[] = [];
  #deliver: ((message: unknown) => void) | undefined;
  #wake: (() => void)[] = [];

  send(message: object): void {
    const m = message as { type: string; flag?: string | null; text?: string };
    this.types.push(m.type);
    if (m.type === 'log') this.lines.push({ flag: m.flag ?? null, text: m.text ?? '' });
    for (const wake of this.#wake.splice(0)) wake();
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#deliver = listener;
  }
  onClose(): void {
    // the test closes the service itself
  }
  deliver(message: unknown): void {
    this.#deliver?.(message);
  }
  /** Waits until `done()` holds, checked after each message; fails after 5 s. */
  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no ${what}; log: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  traced(flag: string): string[] {
    return this.lines.filter((line) => line.flag === flag).map((line) => line.text);
  }
}

let root: string;
let postgres: EmbeddedPostgres;
let database: TestDatabase;
let channel: LogChannel;
let service: Service;
let socket: string;

function instanceInfo(traceFlags: string[]): InstanceInfo {
  return {
    id: 'tr',
    app: 'notes',
    domain: 'example.com',
    path: '/example.com/tr',
    password: instancePassword,
    enabled: true,
    traceFlags,
    dataDir: join(root, 'data'),
    database: {
      host: database.host,
      port: database.port,
      database: database.database,
      user: database.user,
      password: database.password,
      url: `postgres://${database.user}:${database.password}@${database.host}:${database.port}/${database.database}`,
    },
  };
}

function instance(): Instance {
  const found = service.instances.get('tr');
  assert.ok(found, 'instance tr is ready');
  return found;
}

/** Switches the instance's trace flags live and waits until the SDK applied them. */
async function setFlags(flags: string[]): Promise<void> {
  channel.deliver({ type: 'instance.update', instance: instanceInfo(flags) });
  await channel.until(
    () => sdkFlags.every((flag) => instance().traceFlags.has(flag) === flags.includes(flag)),
    `flags ${flags.join(',')}`,
  );
}

/** A request to the instance with secrets in its query, cookie and authorization. */
function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: socket,
        path: `/example.com/tr${path}?token=${querySecret}`,
        headers: {
          'x-appvisor-instance': 'tr',
          cookie: `session=${cookieSecret}`,
          authorization: `Bearer ${authSecret}`,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One round of everything the SDK traces: requests with queries, a login and a message. */
async function exercise(): Promise<void> {
  assert.deepEqual(await get('/q'), { status: 200, body: paramSecret });
  assert.equal((await get('/bad')).status, 500);
  const client = new Client(`ws+unix://${socket}:/example.com/tr/ws`, {
    headers: { 'x-appvisor-instance': 'tr', cookie: `session=${cookieSecret}` },
  });
  await client.open();
  assert.equal((await client.login(instancePassword)).ok, true);
  client.send({ mt: 'Echo', text: paramSecret, src: 'e' });
  assert.equal((await client.next()).mt, 'EchoResult');
  client.ws.close(1000);
  await client.closed;
}

before(async () => {
  root = await makeTemp();
  postgres = await startPostgres(root);
  database = await makeInstanceDatabase(postgres, 'tr', databasePassword);
  socket = join(root, 'http.sock');
  channel = new LogChannel();
  service = createService(
    {
      migrations: [{ version: 1, up: 'CREATE TABLE notes (id serial PRIMARY KEY, text text)' }],
      start: (instance) => ({
        async http(request, response) {
          if (request.url?.startsWith('/example.com/tr/q')) {
            // One query through pool.query, one through a client of pool.connect.
            const { rows } = await instance.db.query<{ v: string }>('SELECT $1::text AS v', [
              paramSecret,
            ]);
            const client = await instance.db.connect();
            try {
              await client.query('SELECT count(*) FROM notes WHERE text = $1', [paramSecret]);
            } finally {
              client.release();
            }
            response.end(rows[0]?.v);
          } else {
            // A data exception whose message would quote the value.
            await instance.db.query('SELECT $1::int', [paramSecret]);
          }
        },
        websocket: appWebsocket({
          session(session) {
            session.on('message', (message) => {
              session.send({ mt: 'EchoResult', text: message.text }, message);
            });
          },
        }),
      }),
    },
    { channel, httpSocket: socket, exitOnShutdown: false },
  );
  await channel.until(() => channel.types.includes('ready'), 'ready');
  channel.deliver({ type: 'instance.start', instance: instanceInfo([]) });
  await channel.until(() => channel.types.includes('instance.ready'), 'instance.ready');
});

after(async () => {
  await service.close();
  await postgres.close();
  await removeTemp(root);
});

describe('SDK tracing', () => {
  test('each flag writes its lines only while on, switched live', async () => {
    await setFlags([]);
    const before = channel.lines.length;
    await exercise();
    const quiet = channel.lines.slice(before).filter((line) => line.flag !== null);
    assert.deepEqual(quiet, [], 'no trace line with every flag off');

    await setFlags(sdkFlags);
    await exercise();
    await channel.until(
      () => channel.traced('webserver').some((line) => line.includes('closed 1000')),
      'the WebSocket close',
    );
    const database = channel.traced('database');
    assert.ok(
      database.some((line) => /^query [\d.]+ ms, 1 rows: SELECT \$1::text AS v$/.test(line)),
      `pool.query traced with time and rows: ${database.join('\n')}`,
    );
    assert.ok(
      database.some((line) => line.endsWith('rows: SELECT count(*) FROM notes WHERE text = $1')),
      'a pool client query is traced',
    );
    assert.ok(
      database.some((line) => /query failed after [\d.]+ ms, SQLSTATE 22P02/.test(line)),
      'a failed query is traced with its SQLSTATE',
    );
    const web = channel.traced('webserver');
    assert.ok(
      web.some((line) => /^GET \/example\.com\/tr\/q 200 \d+ B [\d.]+ ms$/.test(line)),
      web.join('\n'),
    );
    assert.ok(web.some((line) => line.startsWith('GET /example.com/tr/bad 500')));
    assert.ok(web.includes('WebSocket /example.com/tr/ws opened'));
    const traffic = channel.traced('webserver-traffic');
    assert.ok(
      traffic.some((line) => line.includes('request headers') && line.includes('(hidden)')),
    );
    assert.ok(
      traffic.some((line) => /response 200 headers .*body \d+ B; request body 0 B/.test(line)),
    );
    const ws = channel.traced('app-websocket');
    assert.ok(ws.includes('in AppChallenge 31 B'), ws.join('\n'));
    assert.ok(ws.some((line) => /^login ok from .* app=myapp sip=alice dn=Alice/.test(line)));
    assert.ok(ws.some((line) => /^out EchoResult \d+ B$/.test(line)));
    assert.ok(ws.some((line) => line.startsWith('session closed 1000')));

    await setFlags([]);
    const after = channel.lines.length;
    await exercise();
    assert.deepEqual(
      channel.lines.slice(after).filter((line) => line.flag !== null),
      [],
      'off again: no trace line',
    );
  });

  test('no secret in any trace line with every flag on, a failed login included', async () => {
    await setFlags(sdkFlags);
    const before = channel.lines.length;
    await exercise();
    const client = new Client(`ws+unix://${socket}:/example.com/tr/ws`, {
      headers: { 'x-appvisor-instance': 'tr' },
    });
    await client.open();
    assert.equal((await client.login('a wrong password')).ok, false);
    client.ws.close(1000);
    await client.closed;
    await channel.until(
      () => channel.lines.slice(before).some((line) => line.text.startsWith('connection closed')),
      'the failed connection closed',
    );
    // The always-written line of the failing handler names the data exception by its code,
    // not by its message, which quotes the value ("invalid input syntax ...: <value>").
    const failure = channel.lines
      .slice(before)
      .find(
        (line) => line.flag === null && line.text.startsWith('HTTP GET /example.com/tr/bad failed'),
      );
    assert.ok(failure, 'the failing handler is logged');
    assert.match(failure.text, /SQLSTATE 22P02/);
    assert.match(failure.text, /\n {4}at /, 'with its stack');
    assert.ok(!failure.text.includes(paramSecret), failure.text);
    const lines = channel.lines
      .slice(before)
      .filter((line) => line.flag !== null)
      .map((line) => line.text);
    assert.ok(lines.some((line) => line.includes('login failed') && line.includes('wrong digest')));
    const text = lines.join('\n');
    for (const secret of [
      instancePassword,
      databasePassword,
      paramSecret,
      cookieSecret,
      authSecret,
      querySecret,
      'a wrong password',
    ])
      assert.ok(!text.includes(secret), `"${secret}" is in the trace:\n${text}`);
    // Login digests and session keys are 64 hex digits.
    assert.doesNotMatch(text, /[0-9a-f]{64}/);
  });
});

describe('instance.transaction', () => {
  test('commits and answers the value; rolls back on a throw; releases its client', async () => {
    const db = instance();
    const id = await db.transaction(async (client) => {
      const { rows } = await client.query<{ id: number }>(
        "INSERT INTO notes (text) VALUES ('kept') RETURNING id",
      );
      return rows[0]!.id;
    });
    assert.equal(typeof id, 'number');
    await assert.rejects(
      db.transaction(async (client) => {
        await client.query("INSERT INTO notes (text) VALUES ('dropped')");
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    const { rows } = await db.db.query<{ text: string }>('SELECT text FROM notes ORDER BY id');
    assert.deepEqual(
      rows.map((row) => row.text),
      ['kept'],
    );
    // More transactions than the pool has clients: each gave its client back.
    for (let i = 0; i < 5; i++) await db.transaction((client) => client.query('SELECT 1'));
    assert.equal(db.db.waitingCount, 0);
    assert.equal(db.db.idleCount, db.db.totalCount);
  });

  test('a connection that broke inside is destroyed, and the next transaction works', async () => {
    const db = instance();
    await assert.rejects(
      db.transaction((client) => client.query('SELECT pg_terminate_backend(pg_backend_pid())')),
      (error: Error & { code?: string }) => error.code === '57P01',
    );
    assert.equal(db.db.totalCount, db.db.idleCount, 'the broken client is not kept');
    assert.equal(await db.transaction(() => Promise.resolve('fine')), 'fine');
  });

  test('a wait for a free connection is traced under database', async () => {
    await setFlags(['database']);
    const db = instance();
    const before = channel.lines.length;
    let free!: () => void;
    const held = new Promise<void>((resolve) => (free = resolve));
    // Three transactions hold the pool's three clients until `free`.
    const holders = [1, 2, 3].map(() => db.transaction(() => held));
    await channel.until(
      () => db.db.idleCount === 0 && db.db.totalCount === 3,
      'all 3 clients busy',
    );
    const fourth = db.transaction((client) => client.query('SELECT 4'));
    await channel.until(
      () =>
        channel.lines.slice(before).some((line) => line.text.startsWith('all 3 connections busy')),
      'the wait traced',
    );
    free();
    await Promise.all([...holders, fourth]);
    assert.ok(
      channel.lines
        .slice(before)
        .some((line) => /^got a connection after [\d.]+ ms$/.test(line.text)),
    );
  });

  test('is traced like other queries', async () => {
    await setFlags(['database']);
    const before = channel.lines.length;
    await instance().transaction((client) => client.query('SELECT 2'));
    const lines = channel.lines.slice(before).map((line) => line.text);
    for (const sql of ['BEGIN', 'SELECT 2', 'COMMIT'])
      assert.ok(
        lines.some((line) => line.endsWith(`: ${sql}`)),
        `${sql} traced: ${lines.join('\n')}`,
      );
  });
});
