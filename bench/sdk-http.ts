/**
 * `npm run bench -- sdk-http`: what an app's HTTP routing costs per instance, one process
 * hosting many instances, three ways: the SDK's router made per instance, a Fastify instance
 * per instance (mounted through `serverFactory`, the way an app would mount it in the SDK's
 * `http` handler), and a hand-written handler (what examples/echo did). Each way runs in its
 * own child process (`--expose-gc`) so their heaps do not mix. Options: `--instances N`
 * (default 500), `--seconds N` of load per measure (default 10).
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createRouter, readJson, sendJson, type Instance, type Router } from '../src/sdk/index.js';
import { cpuSeconds, printGrid } from './report.js';

type Kind = 'router' | 'fastify' | 'plain';
const kinds: Kind[] = ['router', 'fastify', 'plain'];

/** What a child reports once its instances are built. */
interface Built {
  kind: Kind;
  instances: number;
  buildMs: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  port: number;
}

type Handle = (request: IncomingMessage, response: ServerResponse) => void;

/** A stand-in for the SDK's Instance: only what the handlers read. */
function fakeInstance(n: number): Instance {
  return { id: `i${n}`, path: `/example.com/i${n}` } as Instance;
}

/** The routes every way serves: GET an item by id, POST a JSON body back, GET a list. */
function routerFor(): Router {
  return createRouter()
    .get('/items/:id', (request, _response, instance) => ({
      instance: instance.id,
      id: request.params.id,
    }))
    .post('/items', async (request) => ({ got: await readJson(request) }))
    .get('/items', (_request, _response, instance) => ({ instance: instance.id, items: [] }));
}

async function fastifyFor(instance: Instance): Promise<Handle> {
  const { default: fastify } = await import('fastify');
  let handle: Handle | undefined;
  const app = fastify({
    serverFactory: (handler) => {
      handle = handler;
      return createServer();
    },
  });
  const base = instance.path;
  app.get<{ Params: { id: string } }>(`${base}/items/:id`, (request) => ({
    instance: instance.id,
    id: request.params.id,
  }));
  app.post(`${base}/items`, (request) => ({ got: request.body }));
  app.get(`${base}/items`, () => ({ instance: instance.id, items: [] }));
  await app.ready();
  if (handle === undefined) throw new Error('fastify called no serverFactory');
  return handle;
}

/** The hand-written way: a route of the full URL, JSON by hand (as examples/echo did). */
function plainFor(instance: Instance): Handle {
  return (request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const route = path.startsWith(`${instance.path}/`) ? path.slice(instance.path.length) : null;
    const item = route === null ? null : /^\/items\/([^/]+)$/.exec(route);
    if (request.method === 'GET' && item) {
      sendJson(response, 200, { instance: instance.id, id: decodeURIComponent(item[1]!) });
    } else if (request.method === 'POST' && route === '/items') {
      readJson(request).then(
        (body) => {
          sendJson(response, 200, { got: body });
        },
        () => {
          sendJson(response, 400, { code: 'BAD_REQUEST', message: 'bad JSON' });
        },
      );
    } else if (request.method === 'GET' && route === '/items') {
      sendJson(response, 200, { instance: instance.id, items: [] });
    } else {
      sendJson(response, 404, { code: 'NOT_FOUND', message: 'no such page' });
    }
  };
}

function collect(): { rss: number; heap: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed };
}

/** The child: builds the instances, reports, then serves until killed. */
async function child(kind: Kind, count: number): Promise<void> {
  const handles = new Map<string, Handle>();
  const before = collect();
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n++) {
    const instance = fakeInstance(n);
    let handle: Handle;
    if (kind === 'router') {
      const router = routerFor();
      handle = (request, response) => void router.handle(request, response, instance);
    } else if (kind === 'fastify') {
      handle = await fastifyFor(instance);
    } else {
      handle = plainFor(instance);
    }
    handles.set(instance.id, handle);
  }
  const buildMs = Number(process.hrtime.bigint() - started) / 1e6;
  const after = collect();
  // The SDK's dispatch: the instance named in a header.
  const server = createServer((request, response) => {
    const handle = handles.get(String(request.headers['x-appvisor-instance']));
    if (handle) handle(request, response);
    else sendJson(response, 404, { code: 'INSTANCE_NOT_FOUND', message: 'no such instance' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const built: Built = {
    kind,
    instances: count,
    buildMs,
    rssBefore: before.rss,
    rssAfter: after.rss,
    heapBefore: before.heap,
    heapAfter: after.heap,
    port: (server.address() as AddressInfo).port,
  };
  process.stdout.write(`${JSON.stringify(built)}\n`);
}

async function startChild(kind: Kind, count: number) {
  const script = fileURLToPath(new URL('./index.js', import.meta.url));
  const proc = spawn(
    process.execPath,
    ['--expose-gc', script, 'sdk-http', '--child', kind, String(count)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const built = await new Promise<Built>((resolve, reject) => {
    let text = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n', 1)[0];
      if (text.includes('\n') && line) resolve(JSON.parse(line) as Built);
    });
    proc.once('exit', (code) => {
      reject(new Error(`the ${kind} child ended (${code ?? 'signal'})`));
    });
  });
  return { proc, built };
}

async function load(pid: number, port: number, count: number, seconds: number, post: boolean) {
  const requests = Array.from({ length: 16 }, (_, i) => {
    const n = (i * 31) % count;
    return {
      method: post ? ('POST' as const) : ('GET' as const),
      path: post ? `/example.com/i${n}/items` : `/example.com/i${n}/items/${i}`,
      headers: { 'x-appvisor-instance': `i${n}`, 'content-type': 'application/json' },
      ...(post ? { body: JSON.stringify({ text: 'hello', n: i }) } : {}),
    };
  });
  const run = (duration: number) =>
    autocannon({ url: `http://127.0.0.1:${port}`, connections: 20, duration, requests });
  await run(2);
  const cpuBefore = await cpuSeconds(pid);
  const result = await run(seconds);
  const cpu = (await cpuSeconds(pid)) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return {
    perSecond: result.requests.total / result.duration,
    p99: result.latency.p99,
    // The service's own CPU per request: steadier than the rate on a busy machine.
    cpuMicros: (cpu / result.requests.total) * 1e6,
  };
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

/** The benchmark (see the file's comment); as `--child <kind> <n>`, one of its children. */
export async function sdkHttp(): Promise<void> {
  const childAt = process.argv.indexOf('--child');
  if (childAt !== -1) {
    await child(process.argv[childAt + 1] as Kind, Number(process.argv[childAt + 2]));
    await new Promise(() => undefined);
  }
  const count = option('--instances', 500);
  const seconds = option('--seconds', 10);
  const rows: string[][] = [];
  for (const kind of kinds) {
    const { proc, built } = await startChild(kind, count);
    const pid = proc.pid ?? 0;
    try {
      // This process's own warm-up (autocannon's code compiled) before the first measure.
      if (kind === kinds[0]) await load(pid, built.port, count, 2, false);
      const get = await load(pid, built.port, count, seconds, false);
      const post = await load(pid, built.port, count, seconds, true);
      const kib = (bytes: number) => (bytes / 1024 / count).toFixed(1);
      rows.push([
        kind,
        `${(built.buildMs / count).toFixed(3)} ms`,
        `${kib(built.heapAfter - built.heapBefore)} KiB`,
        `${kib(built.rssAfter - built.rssBefore)} KiB`,
        `${(built.rssAfter / 1024 / 1024).toFixed(1)} MiB`,
        get.perSecond.toFixed(0),
        `${get.cpuMicros.toFixed(0)} µs`,
        `${get.p99} ms`,
        post.perSecond.toFixed(0),
        `${post.cpuMicros.toFixed(0)} µs`,
        `${post.p99} ms`,
      ]);
    } finally {
      proc.kill();
    }
  }
  printGrid(
    `${count} instances in one process, ${seconds} s per load, 20 connections`,
    [
      'way',
      'build / instance',
      'heap / instance',
      'RSS / instance',
      'RSS total',
      'GET req/s',
      'GET CPU/req',
      'GET p99',
      'POST req/s',
      'POST CPU/req',
      'POST p99',
    ],
    rows,
  );
}
