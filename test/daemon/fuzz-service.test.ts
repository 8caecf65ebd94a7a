/**
 * The service protocol fuzz net: a hostile service sends a seeded plan of garbage over its
 * channel (wrong types, unknown and out-of-order messages, ids of other apps' instances,
 * `__proto__`, huge texts, JSON that is not an object, deep nesting) and answers the front's
 * requests with broken HTTP. The manager must stay alive and answering, and another app and
 * its instance must not notice. The seed is printed; see test/helpers/fuzz.ts to replay or
 * lengthen a run.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  echoWithInstance,
  eventually,
  http,
  instanceView,
  isAlive,
  nodeServiceWithInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { fuzzRun, Random } from '../helpers/fuzz.js';

const run = fuzzRun({ seed: 4_2026, count: 1_200 });

/** One step of the plan: a message sent as is, or a raw line on the channel. */
type Step = { send: unknown; fill?: { field: string; size: number } } | { raw: string };

/** Broken answers of the hostile service's HTTP socket, used in turn. */
const answers: { text: string; hang?: boolean }[] = [
  { text: 'HTTP/1.1 200 OK\x7f\r\nconnection: close\r\ncontent-length: 2\r\n\r\nhi' },
  { text: 'HTTP/1.1 200 \xff\xfe\r\nconnection: close\r\ncontent-length: 0\r\n\r\n' },
  { text: 'HTTP/1.1 999 Odd\r\nconnection: close\r\ncontent-length: 0\r\n\r\n' },
  { text: 'HTTP/1.1 1000 Big\r\n\r\n' },
  { text: 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n' },
  { text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nconnection: close\r\n\r\nlate' },
  { text: 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort' },
  { text: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nbad\r\n' },
  { text: 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab' },
  { text: `HTTP/1.1 200 OK\r\nx-big: ${'y'.repeat(100_000)}\r\n\r\n` },
  {
    text: 'HTTP/1.1 200 OK\r\nset-cookie: appvisor_session=stolen; Path=/\r\nconnection: close\r\n\r\n',
  },
  { text: 'HTTP/1.1 200 OK\r\nbad header\r\n\r\n' },
  { text: 'not http at all\r\n\r\n' },
  { text: '\x00\x01\x02\x03' },
  { text: '' },
  { text: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf', hang: true },
  { text: 'HTTP/1.1 200', hang: true },
];

/** The hostile service: ready at once, then on `go` it runs plan.json's steps. */
const hostile = `const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const dir = process.env.APPVISOR_DATA_DIR;
const plan = PLAN;
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
let turn = 0;
const server = net.createServer((client) => {
  client.on('error', () => {});
  client.once('data', () => {
    const answer = plan.answers[turn++ % plan.answers.length];
    const bytes = Buffer.from(answer.text, 'latin1');
    if (answer.hang) client.write(bytes); else client.end(bytes);
  });
});
server.listen(socket, () => process.send({ type: 'ready', httpSocket: socket }));
process.on('message', (m) => {
  if (m && m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
async function raw(text) {
  const bytes = Buffer.from(text);
  let sent = 0;
  while (sent < bytes.length) {
    try { sent += fs.writeSync(3, bytes, sent, bytes.length - sent); }
    catch (error) {
      if (error.code !== 'EAGAIN') return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}
const progress = path.join(dir, 'progress');
async function go() {
  let i = fs.existsSync(progress) ? Number(fs.readFileSync(progress, 'utf8')) : 0;
  for (; i < plan.steps.length; i++) {
    if (i % 20 === 0) {
      fs.writeFileSync(progress, String(i));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const step = plan.steps[i];
    if ('raw' in step) { await raw(step.raw + '\\n'); continue; }
    if (step.fill) step.send[step.fill.field] = 'x'.repeat(step.fill.size);
    // Each message is written before the next step: a raw line must never land inside a
    // message Node is still writing (that garbles it here, in the test, not in the manager).
    await new Promise((resolve) => process.send(step.send, undefined, {}, () => resolve()));
  }
  fs.writeFileSync(progress, String(i));
  process.send({ type: 'log', text: 'plan done' }, undefined, {}, () => {
    fs.writeFileSync(path.join(dir, 'done'), '');
  });
}
// After a restart (the manager may end a service it finds misbehaving) the plan goes on.
if (fs.existsSync(progress)) go();
const timer = setInterval(() => {
  if (!fs.existsSync(path.join(dir, 'go'))) return;
  fs.unlinkSync(path.join(dir, 'go'));
  clearInterval(timer);
  go();
}, 50);
`;

function nasty(random: Random): unknown {
  return random.pick<() => unknown>([
    () => 'h1',
    () => 'good1',
    () => 'nosuch',
    () => '__proto__',
    () => 'constructor',
    () => 'toString',
    () => '',
    () => 'a\u0000b',
    () => 'line\nbreak\r[appvisor] forged',
    () => '\u001b[2J\u202e',
    () => '\ud800',
    () => 'app:other:x',
    () => 'database-down',
    () => '../../manager.sock',
    () => 'x'.repeat(random.pick([64, 65, 1000, 5000])),
    () => random.below(2) === 0,
    () => random.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER]),
    () => null,
    () => [],
    () => ({}),
    () => ({ __proto__: { polluted: true }, toString: 'x' }),
    () => [[[['deep']]]],
  ])();
}

const types = [
  'ready',
  'instance.ready',
  'instance.failed',
  'instance.stopped',
  'log',
  'event',
  'alarm',
  'upgrade',
  'shutdown',
  'instance.start',
  'instance.update',
  'nosuch',
];

const fields = [
  'id',
  'instance',
  'text',
  'error',
  'flag',
  'kind',
  'code',
  'severity',
  'active',
  'httpSocket',
  'handoff',
];

function makeStep(random: Random): Step {
  if (random.chance(0.08)) {
    return {
      raw: random.pick([
        'null',
        '[]',
        '"just a string"',
        '1e400',
        'true',
        '{}',
        '{"__proto__":{"polluted":true},"type":"log","text":"proto"}',
        '{"type":"instance.ready","id":{"__proto__":{"id":"h1"}}}',
        '{"type":"log","text":"\\ud800\\u0000"}',
        `{"type":"log","x":${'['.repeat(3000)}${']'.repeat(3000)}}`,
        `{"type":"event","kind":"k",${'"a":1,'.repeat(5000)}"text":"many keys"}`,
      ]),
    };
  }
  const message: Record<string, unknown> = {};
  if (random.chance(0.9)) message.type = random.chance(0.85) ? random.pick(types) : nasty(random);
  for (const field of fields) {
    if (random.chance(0.35)) message[field] = nasty(random);
  }
  if (random.chance(0.1)) message[JSON.stringify(nasty(random))] = nasty(random);
  if (random.chance(0.03)) {
    // Under services.maxMessageBytes (256 KB) by a margin: a longer one ends the service.
    return { send: message, fill: { field: 'text', size: random.pick([10_000, 100_000]) } };
  }
  return { send: message };
}

/** A GET to the front with a deadline; resolves with the status (0: cut off). */
function frontGet(daemon: Daemon, path: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(`${daemon.httpUrl}${path}`, { agent: false }, (response) => {
      response.resume();
      const done = () => {
        resolve({ status: response.statusCode ?? 0, ms: Date.now() - started });
      };
      response.once('end', done);
      response.once('close', done);
      response.once('error', () => undefined);
    });
    req.setTimeout(8_000, () => {
      req.destroy();
      reject(new Error(`no answer to ${path} within 8 s`));
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') resolve({ status: 0, ms: Date.now() - started });
      else reject(error);
    });
    req.end();
  });
}

const escapedPattern = /an exception escaped|a rejection was not handled|escaped its handler/;

describe('service protocol fuzz net', () => {
  const running = withDaemon({
    args: [
      // Let the garbage reach the handlers instead of the rate limits.
      ...['events', 'alarms', 'logs'].flatMap((kind) => [
        '--set',
        `services.${kind}.perSecond=100000`,
        '--set',
        `services.${kind}.burst=100000`,
      ]),
      '--set',
      'front.idleTimeoutSeconds=2',
    ],
  });
  const random = new Random(run.seed);
  const steps = Array.from({ length: run.count }, () => makeStep(random));

  before(async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'good1');
    // The plan travels inside the service's source (JSON is JavaScript).
    const source = hostile.replace('PLAN', () => JSON.stringify({ steps, answers }));
    await nodeServiceWithInstance(daemon, 'hostile', source, { id: 'h1', path: '/h1' });
  });

  test(`${run.count} garbage messages and broken HTTP answers harm neither the manager nor another app (seed ${run.seed})`, async (t) => {
    const { daemon } = running;
    t.diagnostic(
      `seed ${run.seed}, ${run.count} messages (APPVISOR_FUZZ_SEED, APPVISOR_FUZZ_COUNT, APPVISOR_TEST_LONG)`,
    );
    const home = join(daemon.data, 'appdata', 'hostile');
    await writeFile(join(home, 'go'), '');
    const done = eventually(
      async () => ((await stat(join(home, 'done')).catch(() => null)) ? true : undefined),
      120_000,
      'the plan sent',
    );
    const state = { finished: false };
    void done.then(
      () => (state.finished = true),
      () => (state.finished = true),
    );
    let slowest = 0;
    let requests = 0;
    while (!state.finished) {
      assert.ok(isAlive(daemon.child.pid!), `the manager died:\n${daemon.stderr().slice(-3000)}`);
      const started = Date.now();
      const apps = await http('GET', { socket: daemon.socket }, '/manager/api/v1/apps');
      assert.equal(apps.status, 200, apps.text);
      slowest = Math.max(slowest, Date.now() - started);
      const answer = await frontGet(daemon, '/h1/');
      requests++;
      assert.notEqual(answer.status, 500, 'a broken answer of a service is never a 500');
      assert.ok(answer.ms < 5_000, `an answer took ${answer.ms} ms`);
      const good = await frontGet(daemon, '/example.com/good1/');
      assert.equal(good.status, 200, 'the other app serves on');
    }
    await done;
    t.diagnostic(`slowest API answer ${slowest} ms, ${requests} rounds of front requests`);
    assert.ok(slowest < 2_000, `the API took ${slowest} ms to answer`);
    // Every broken answer once more, after the plan.
    for (let i = 0; i < answers.length; i++) {
      const answer = await frontGet(daemon, '/h1/');
      assert.notEqual(answer.status, 500);
    }
    assert.ok(isAlive(daemon.child.pid!), 'the manager is alive');
    const good = await instanceView(daemon, 'good1');
    assert.equal(good.state, 'ready', "the other app's instance is untouched");
    assert.equal((await frontGet(daemon, '/example.com/good1/')).status, 200);
    const log = await readFile(join(daemon.data, 'logs', 'manager.log'), 'utf8');
    assert.doesNotMatch(log, escapedPattern, 'nothing escaped a handler');
    assert.doesNotMatch(daemon.stderr(), escapedPattern);
    // The app's own log got the plan's last line: its messages were read to the end.
    const appLog = await readFile(join(daemon.data, 'logs', 'hostile.log'), 'utf8');
    assert.match(appLog, /plan done/);
  });
});
