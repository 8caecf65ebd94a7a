/**
 * An external PostgreSQL that goes away: at the manager's start, while it runs, and by a smart
 * shutdown the operator asks of it. The server is the test's own, reached with a role made as
 * docs/install.md tells an operator (LOGIN CREATEDB CREATEROLE, no superuser).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  echoWithInstance,
  nodeServiceWithInstance,
  eventually,
  http,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { ExternalServer } from '../helpers/external-server.js';

/**
 * A service in plain Node.js, no SDK: each page opens a TCP connection to its instance's
 * database server and answers 200 when it could, 500 when not (as an app whose queries fail).
 */
const plainService = `
const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
const databases = new Map();
http.createServer((req, res) => {
  const db = databases.get(req.headers['x-appvisor-instance']) ?? [...databases.values()][0];
  const conn = net.connect(db.port, db.host);
  conn.once('connect', () => { conn.destroy(); res.end('up'); });
  conn.once('error', () => { res.statusCode = 500; res.end('the database is away'); });
}).listen(socket, () => process.send({ type: 'ready', httpSocket: socket }));
process.on('message', (m) => {
  if (m.type === 'instance.start') {
    databases.set(m.instance.id, m.instance.database);
    process.send({ type: 'instance.ready', id: m.instance.id });
  }
});
`;

describe('an external PostgreSQL that goes away', () => {
  let root: string;
  let server: ExternalServer;
  let url: string;
  let daemon: Daemon | undefined;

  before(async () => {
    root = await makeTemp();
    server = await ExternalServer.create(root);
    url = await server.makeOperatorRole();
  });

  after(async () => {
    await daemon?.stop();
    await server.stop('fast');
    await killAll(join(root, 'data'));
    await removeTemp(root);
  });

  test('a manager started while the server is down waits for it, saying why', async () => {
    await server.stop('fast');
    let said = '';
    let seen: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (seen = resolve));
    const starting = startDaemon({
      data: join(root, 'data'),
      args: ['--set', `database.url=${url}`],
      onStderr: (text) => {
        said += text;
        if (/DATABASE_UNAVAILABLE/.test(said)) seen();
      },
    });
    starting.catch(() => undefined);
    // A manager that exits (or gets ready without the server) fails the test here.
    await Promise.race([waiting, starting.then(() => assert.fail('ready without its database'))]);
    assert.match(said, /DATABASE_UNAVAILABLE.*127\.0\.0\.1:\d+.*ECONNREFUSED/);
    assert.ok(!said.includes('ext-admin-password-1'), 'the password is not shown');
    await server.start();
    daemon = await starting;
    const status = await http('GET', { socket: daemon.socket }, '/manager/api/v1/status');
    assert.equal((status.body as { database: { state: string } }).database.state, 'running');
  });

  test('instance pages answer 503 with Retry-After during an outage, and recover', async () => {
    assert.ok(daemon);
    const { httpUrl } = daemon;
    await echoWithInstance(daemon, 'alpha');
    await nodeServiceWithInstance(daemon, 'plain', plainService, { id: 'beta', path: '/beta' });
    const pages = [
      () => http('POST', { url: httpUrl }, '/example.com/alpha/count'),
      () => http('GET', { url: httpUrl }, '/beta'),
    ];
    for (const page of pages) {
      const first = await page();
      assert.equal(first.status, 200, first.text);
    }
    await server.stop('fast');
    // Every answer during the outage is a 503 with Retry-After, none a 500 (of the app).
    for (const page of pages) {
      for (let n = 0; n < 5; n++) {
        const answer = await page();
        assert.equal(answer.status, 503, answer.text);
        assert.ok(answer.headers['retry-after'], 'a 503 says when to retry');
      }
    }
    await server.start();
    for (const page of pages) {
      await eventually(
        async () => ((await page()).status === 200 ? true : undefined),
        60_000,
        'the page back',
      );
    }
  });

  test('a smart shutdown of the server ends while the manager works', async () => {
    assert.ok(daemon);
    // The store is read every half second meanwhile (the event list): a pool that kept its
    // connection in use would hold the shutdown for ever, since a smart shutdown waits for
    // every session to end and refuses new ones.
    const socket = daemon.socket;
    const stop = { done: false };
    const reading = (async () => {
      while (!stop.done) {
        await http('GET', { socket }, '/manager/api/v1/events').catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    await http('GET', { socket: daemon.socket }, '/manager/api/v1/events');
    const ended = await server.stop('smart', 90_000);
    stop.done = true;
    await reading;
    assert.ok(ended, 'the smart shutdown ended within 90 s');
    await server.start();
    await eventually(
      async () => {
        const answer = await http('POST', { url: daemon!.httpUrl }, '/example.com/alpha/count');
        return answer.status === 200 ? true : undefined;
      },
      60_000,
      'the page back after the smart shutdown',
    );
  });
});
