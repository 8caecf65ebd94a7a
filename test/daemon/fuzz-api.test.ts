/**
 * The API fuzz net: every route of the API (read from the route table, so a new route is
 * covered without being named here) gets malformed parameters, queries and bodies: wrong
 * types, huge strings, deep nesting, invalid UTF-8 and JSON, unknown fields, `__proto__`,
 * wrong content types. Never a 500, never an answer later than 5 s, the manager alive after.
 * The seed is printed; see test/helpers/fuzz.ts to replay a run or make it longer.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { before, describe, test } from 'node:test';
import type { ApiRoute } from '../../src/api/index.js';
import { apiRoutes } from '../helpers/api-routes.js';
import {
  echoWithInstance,
  http,
  isAlive,
  waitForApp,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { fuzzRun, Random } from '../helpers/fuzz.js';

const run = fuzzRun({ seed: 17_2026, count: 1_200 });
/** Requests in flight at once. */
const parallel = 4;
/** The longest an answer's head may take. */
const answerMs = 5_000;

/** Codes a refusal may carry with a 5xx status: an outside party or a resource, not a bug. */
const allowed5xx = new Set([
  'DATABASE_UNAVAILABLE',
  'DISK_FULL',
  'APPSTORE_UNREACHABLE',
  'APPSTORE_INDEX_INVALID',
  'APPSTORE_INDEX_EXPIRED',
  'APPSTORE_INDEX_REPLAYED',
  'SIGNATURE_INVALID',
  'PACKAGE_DIGEST_MISMATCH',
]);

interface Case {
  via: 'socket' | 'admin';
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

/** The case without its bulk, to read in a failure. */
function describeCase(c: Case): string {
  const body = c.body
    ? c.body.length > 300
      ? `${c.body.length} bytes: ${JSON.stringify(c.body.subarray(0, 120).toString('latin1'))}…`
      : JSON.stringify(c.body.toString('latin1'))
    : 'none';
  const path = c.path.length > 300 ? `${c.path.slice(0, 300)}…(${c.path.length})` : c.path;
  return `${c.via} ${c.method} ${path} ${JSON.stringify(c.headers).slice(0, 300)} body ${body}`;
}

/** Strings that break things: control characters, encodings, sizes, names with meanings. */
function nastyString(random: Random): string {
  return random.pick([
    () => '',
    () => 'x',
    () => 'echo',
    () => 'fz1',
    () => 'nosuch',
    () => 'a\u0000b',
    () => '\u0000',
    () => 'line\nbreak',
    () => '\r\n\r\nGET / HTTP/1.1',
    () => '\t',
    () => '\u001b[31m',
    () => '\u202e\u2066',
    () => '\ud800',
    () => '\udfff\ud800',
    () => '😀'.repeat(random.below(50)),
    () => '../../etc/passwd',
    () => '/etc/passwd',
    () => '..',
    () => '.',
    () => '/',
    () => '#A/#I-#d.tar',
    () => '#q',
    () => '#bn',
    () => '__proto__',
    () => 'constructor',
    () => 'prototype',
    () => 'toString',
    () => 'hasOwnProperty',
    () => '%00',
    () => '%',
    () => "'; DROP TABLE apps; --",
    () => '$1',
    () => '${x}',
    () => '* * * *',
    () => '0 0 1 1 *',
    () => '61 25 * * *',
    () => 'http://127.0.0.1:1/apps.json',
    () => 'https://user:pass@127.0.0.1:1/',
    () => 'file:///etc/passwd',
    () => 'javascript:alert(1)',
    () => 'a@b',
    () => 'root@localhost',
    () => '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    () => '1.0.0',
    () => '99999999999999999999',
    () => '-1',
    () => 'NaN',
    () => 'true',
    () => 'null',
    () => '+app',
    () => '-nosuchflag',
    () => 'x'.repeat(random.pick([63, 64, 65, 199, 200, 201, 255, 256, 257, 1024, 5000])),
    () => 'é'.repeat(random.below(300)),
    () => random.bytes(random.below(40)).toString('latin1'),
  ])();
}

function nastyNumber(random: Random): unknown {
  return random.pick<unknown>([
    0,
    1,
    -1,
    1.5,
    2 ** 31,
    2 ** 53,
    -(2 ** 63),
    1e308,
    -1e-308,
    '12',
    '0x10',
    '',
    null,
    true,
    [],
    {},
  ]);
}

/** A value for a schema property: usually of its type, often not. */
function valueFor(random: Random, schema: unknown, depth = 0): unknown {
  const node = (schema ?? {}) as {
    type?: unknown;
    enum?: unknown[];
    properties?: Record<string, unknown>;
    items?: unknown;
  };
  if (random.chance(0.15)) return anyValue(random, depth);
  if (node.enum && random.chance(0.6)) return random.pick(node.enum);
  const type = Array.isArray(node.type) ? random.pick(node.type as string[]) : node.type;
  switch (type) {
    case 'string':
      return nastyString(random);
    case 'integer':
    case 'number':
      return nastyNumber(random);
    case 'boolean':
      return random.pick<unknown>([true, false, 'true', 'false', 1, 0, 'yes', null]);
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: random.below(6) }, () => valueFor(random, node.items, depth + 1));
    case 'object':
      return objectFor(random, node, depth + 1);
    default:
      return anyValue(random, depth);
  }
}

function anyValue(random: Random, depth: number): unknown {
  if (depth > 3) return nastyString(random);
  return random.pick<() => unknown>([
    () => nastyString(random),
    () => nastyNumber(random),
    () => null,
    () => [nastyString(random), nastyNumber(random)],
    () => ({ [nastyString(random)]: anyValue(random, depth + 1) }),
  ])();
}

/** An object for an object schema: some known fields, sometimes an unknown one. */
function objectFor(
  random: Random,
  schema: { properties?: Record<string, unknown> },
  depth = 0,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (random.chance(0.7)) out[name] = valueFor(random, property, depth);
  }
  if (random.chance(0.2)) out[nastyString(random)] = anyValue(random, depth);
  return out;
}

/** Deeply nested JSON text (arrays or objects), `levels` deep. */
function nested(random: Random, levels: number): string {
  return random.chance(0.5)
    ? `${'['.repeat(levels)}1${']'.repeat(levels)}`
    : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

/** A body for the route: a mangled JSON object, or bytes that are not what it reads. */
function bodyFor(random: Random, route: ApiRoute): { type?: string; bytes: Buffer } {
  const shaped = () => JSON.stringify(objectFor(random, route.schema.body ?? {}));
  const json = 'application/json';
  return random.pick<() => { type?: string; bytes: Buffer }>([
    () => ({ type: json, bytes: Buffer.from(shaped()) }),
    () => ({ type: json, bytes: Buffer.from(shaped()) }),
    () => ({ type: json, bytes: Buffer.from(shaped()) }),
    () => ({ type: json, bytes: Buffer.from('{"__proto__":{"isAdmin":true},"a":1}') }),
    () => ({ type: json, bytes: Buffer.from('{"constructor":{"prototype":{"x":1}}}') }),
    () => ({ type: json, bytes: Buffer.from(nested(random, random.pick([100, 5_000, 60_000]))) }),
    () => ({ type: json, bytes: Buffer.from(shaped().slice(0, -1)) }),
    () => ({ type: json, bytes: Buffer.alloc(0) }),
    () => ({ type: json, bytes: Buffer.from(JSON.stringify(anyValue(random, 0))) }),
    () => ({
      type: json,
      // Invalid UTF-8 inside a JSON string.
      bytes: Buffer.concat([
        Buffer.from('{"a":"'),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]),
    }),
    () => ({ type: json, bytes: Buffer.from(`\ufeff${shaped()}`) }),
    () => ({
      type: json,
      bytes: Buffer.from(JSON.stringify({ a: 'x'.repeat(random.pick([70_000, 1_100_000])) })),
    }),
    () => ({ type: 'application/json; charset=utf-16', bytes: Buffer.from(shaped(), 'utf16le') }),
    () => ({ type: 'application/octet-stream', bytes: random.bytes(random.below(2_000)) }),
    () => ({ type: 'application/gzip', bytes: Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]) }),
    () => ({ type: 'text/plain', bytes: Buffer.from(shaped()) }),
    () => ({ type: 'application/x-www-form-urlencoded', bytes: Buffer.from('a=1&b=2') }),
    () => ({ type: 'multipart/form-data; boundary=x', bytes: Buffer.from('--x\r\n\r\n--x--') }),
    () => ({ type: 'application/jsonx', bytes: Buffer.from(shaped()) }),
    () => ({ type: ';;;', bytes: Buffer.from(shaped()) }),
    () => ({ bytes: Buffer.from(shaped()) }),
  ])();
}

/** Percent-encodes the UTF-8 bytes of text (a lone surrogate becomes U+FFFD, never a throw). */
function encode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(char) ? char : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** A value for a path parameter, encoded as a client might (or might not) encode it. */
function paramFor(random: Random, schema: unknown): string {
  const node = (schema ?? {}) as { enum?: string[] };
  if (node.enum && random.chance(0.5)) return random.pick(node.enum);
  return random.pick<() => string>([
    () => encode(nastyString(random)),
    () => encode(nastyString(random)),
    () => random.pick(['echo', 'fz1', 'nosuch', 'default']),
    () => random.pick(['%00', '%0a', '%ZZ', '%', '%C0%AF', '%ED%A0%80', '%FF', '..', '%2e%2e']),
    () => 'a'.repeat(random.pick([201, 4_000, 20_000])),
  ])();
}

function queryFor(random: Random, route: ApiRoute): string {
  const schema = route.schema.querystring as { properties?: Record<string, unknown> } | undefined;
  const parts: string[] = [];
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (!random.chance(0.5)) continue;
    const value = valueFor(random, property);
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    parts.push(`${name}=${encode(text)}`);
    if (random.chance(0.1)) parts.push(`${name}=again`);
  }
  if (random.chance(0.15)) parts.push(random.pick(['__proto__[x]=1', 'a[b]=1', '%zz=1', 'x', '=']));
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function makeCase(random: Random, routes: readonly ApiRoute[]): Case {
  const route = random.pick(routes);
  const params = (route.schema.params ?? {}) as { properties?: Record<string, unknown> };
  let path = route.url.replace(/:([^/]+)/g, (_m, name: string) =>
    paramFor(random, params.properties?.[name]),
  );
  path += queryFor(random, route);
  const method = random.chance(0.05)
    ? random.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
    : route.method;
  const headers: Record<string, string> = {};
  let body: Buffer | undefined;
  if (route.streamedBody && random.chance(0.5)) {
    headers['content-type'] = random.pick(['application/octet-stream', 'application/gzip']);
    body = random.bytes(random.below(4_000));
  } else if (!['GET', 'HEAD'].includes(method) && random.chance(0.85)) {
    const made = bodyFor(random, route);
    if (made.type !== undefined) headers['content-type'] = made.type;
    body = made.bytes;
  }
  // A tenth of the cases come from outside: the admin origin with no or a forged login.
  const via = random.chance(0.1) ? 'admin' : 'socket';
  if (via === 'admin') {
    const forged = random.pick([
      () => ({ authorization: `Bearer ${nastyString(random).replace(/[^\x21-\x7e]/g, 'x')}` }),
      () => ({ cookie: `appvisor_session=${'%'.repeat(random.below(3))}${'a'.repeat(60)}` }),
      () => ({ cookie: `appvisor_session=%E0%A4%A; appvisor_session=%` }),
      () => ({ origin: 'https://evil.example' }),
      () => ({}),
    ])();
    Object.assign(headers, forged);
  }
  return { via, method, path, headers, body };
}

interface Outcome {
  status: number;
  code: string | undefined;
  ms: number;
}

/** Sends a case; resolves once the head is in and the body read (at most 1 s of it). */
function send(daemon: Daemon, c: Case): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${answerMs} ms`));
    }, answerMs);
    const onResponse = (response: IncomingMessage) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      const chunks: Buffer[] = [];
      let size = 0;
      // A followed log streams on: what came within a second is enough.
      const cut = setTimeout(() => response.destroy(), 1_000);
      const done = () => {
        clearTimeout(cut);
        let code: string | undefined;
        try {
          code = (JSON.parse(Buffer.concat(chunks).toString()) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({ status: response.statusCode ?? 0, code, ms });
      };
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size < 64 * 1024) chunks.push(chunk);
      });
      response.once('end', done);
      response.once('close', done);
      response.once('error', () => undefined);
    };
    const headers: Record<string, string> = { ...c.headers, connection: 'close' };
    if (c.body) headers['content-length'] = String(c.body.length);
    const req =
      c.via === 'socket'
        ? httpRequest(
            { socketPath: daemon.socket, method: c.method, path: c.path, headers, agent: false },
            onResponse,
          )
        : httpsRequest(
            `${daemon.adminUrl}${c.path}`,
            { method: c.method, headers, rejectUnauthorized: false, agent: false },
            onResponse,
          );
    req.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // The server may close on a request it refuses before reading all of it (431, 413).
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
        resolve({ status: 0, code: error.code, ms: Date.now() - started });
      } else reject(error);
    });
    req.end(c.body);
  });
}

describe('API fuzz net', () => {
  const running = withDaemon();
  let routes: readonly ApiRoute[] = [];

  before(async () => {
    routes = await apiRoutes();
    await echoWithInstance(running.daemon, 'fz1');
  });

  test(`${run.count} malformed requests over every route: never a 500, a hang, or a dead manager (seed ${run.seed})`, async (t) => {
    const { daemon } = running;
    t.diagnostic(
      `seed ${run.seed}, ${run.count} requests over ${routes.length} routes (APPVISOR_FUZZ_SEED, APPVISOR_FUZZ_COUNT, APPVISOR_TEST_LONG)`,
    );
    const random = new Random(run.seed);
    const cases = Array.from({ length: run.count }, () => makeCase(random, routes));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let slowest = 0;
    let next = 0;
    const worker = async () => {
      while (next < cases.length && failures.length < 10) {
        const index = next++;
        const c = cases[index]!;
        try {
          const outcome = await send(daemon, c);
          statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          slowest = Math.max(slowest, outcome.ms);
          const bad =
            outcome.status === 500 ||
            outcome.code === 'INTERNAL' ||
            (outcome.status > 500 && !allowed5xx.has(outcome.code ?? ''));
          if (bad) failures.push(`#${index} ${outcome.status} ${outcome.code}: ${describeCase(c)}`);
        } catch (error) {
          failures.push(`#${index} ${(error as Error).message}: ${describeCase(c)}`);
        }
        if (!isAlive(daemon.child.pid!)) {
          failures.push(`#${index} the manager died: ${describeCase(c)}`);
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    t.diagnostic(
      `statuses ${JSON.stringify(Object.fromEntries(statuses))}, slowest answer ${slowest} ms`,
    );
    assert.deepEqual(
      failures,
      [],
      `seed ${run.seed}:\n${failures.join('\n')}\n${daemon.stderr().slice(-3000)}`,
    );
    // Alive and still doing its job.
    assert.ok(isAlive(daemon.child.pid!), 'the manager is alive');
    const health = await http('GET', { socket: daemon.socket }, '/manager/api/v1/health');
    assert.equal(health.status, 200, health.text);
    const apps = await http('GET', { socket: daemon.socket }, '/manager/api/v1/apps');
    assert.equal(apps.status, 200, apps.text);
    // Nothing reached the last resort (it logs what escaped and keeps the manager alive).
    const log = await readFile(join(daemon.data, 'logs', 'manager.log'), 'utf8');
    assert.doesNotMatch(
      log,
      /an exception escaped|a rejection was not handled|escaped its handler/,
    );
    assert.doesNotMatch(daemon.stderr(), /uncaught|unhandled|escaped/i);
  });

  test('the manager still serves its app afterwards', async () => {
    const { daemon } = running;
    const started = await http(
      'POST',
      { socket: daemon.socket },
      '/manager/api/v1/apps/echo/start',
    );
    assert.ok([200, 404].includes(started.status), started.text);
    if (started.status === 200) await waitForApp(daemon, 'echo');
  });
});
