import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  eventually,
  http,
  isAlive,
  nodeServiceWithInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

/**
 * Loaded into the manager before its own code: a throw nothing catches and a rejection nothing
 * handles, a few seconds after the start (a stand-in for a bug on a path not yet known).
 */
const strays = `data:text/javascript,${encodeURIComponent(`
import { existsSync } from 'node:fs';
const data = process.argv[process.argv.indexOf('--data') + 1];
const ready = setInterval(() => {
  if (!existsSync(data + '/manager.sock')) return;
  clearInterval(ready);
  setTimeout(() => { throw new Error('stray throw for the test'); }, 500);
  setTimeout(() => { void Promise.reject(new Error('stray rejection for the test')); }, 700);
}, 100);
ready.unref();
`)}`;

const managerLog = (daemon: Daemon) => readFile(join(daemon.data, 'logs', 'manager.log'), 'utf8');

describe('what escapes is logged, never fatal', () => {
  const running = withDaemon({ nodeArgs: ['--import', strays] });

  test('an exception and a rejection nothing handled: logged, and the manager goes on', async () => {
    const { daemon } = running;
    const log = await eventually(
      async () => {
        const text = await managerLog(daemon);
        return text.includes('stray rejection for the test') ? text : undefined;
      },
      20_000,
      'both strays in the log',
    );
    assert.match(log, /stray throw for the test/);
    assert.match(log, /an exception escaped/);
    assert.match(log, /a rejection was not handled/);
    assert.ok(isAlive(daemon.child.pid!), `the manager died:\n${daemon.stderr().slice(-2000)}`);
    const health = await http('GET', { socket: daemon.socket }, '/manager/api/v1/health');
    assert.equal(health.status, 200, health.text);
  });
});

/**
 * A service that answers every request with a head it writes itself: a reason phrase with a
 * DEL, which Node's client reads and its server refuses to write.
 */
const rawAnswers = `const net = require('node:net');
const fs = require('node:fs');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
const server = net.createServer((client) => {
  client.once('data', () => {
    client.end(Buffer.from('HTTP/1.1 200 OK\\x7f\\r\\nconnection: close\\r\\ncontent-length: 2\\r\\n\\r\\nhi', 'latin1'));
  });
  client.on('error', () => {});
});
server.listen(socket, () => process.send({ type: 'ready', httpSocket: socket }));
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

describe('an app cannot end the manager with its answers', () => {
  const running = withDaemon();

  test('a reason phrase the front cannot write is left out, and the manager lives', async () => {
    const { daemon } = running;
    await nodeServiceWithInstance(daemon, 'rawhead', rawAnswers, { id: 'r1', path: '/r1' });
    for (let i = 0; i < 3; i++) {
      const answer = await http('GET', { url: daemon.httpUrl }, '/r1/');
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.text, 'hi');
    }
    assert.ok(isAlive(daemon.child.pid!), `the manager died:\n${daemon.stderr().slice(-2000)}`);
    const health = await http('GET', { socket: daemon.socket }, '/manager/api/v1/health');
    assert.equal(health.status, 200);
  });
});
