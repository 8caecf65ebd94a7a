/**
 * The front benchmark: one echo service, reached six ways by the same clients in one run —
 * (a) its own Unix socket, (a') its own TCP port, (b) appvisor's plain HTTP front (WebSockets
 * handed over to the service, requests proxied), (c) appvisor's HTTPS front (TLS ended in the
 * manager, piped to the socket), (d) nginx proxying to the same socket and (e) nginx ending
 * TLS with the manager's certificate, then proxying. It measures the memory of idle
 * WebSockets, echo round trips on active ones, small HTTP GETs, GETs of a 20 KB and a 2 MB
 * file of the app's `web.static` folder (served by the front and by nginx, not by the service),
 * and the same three over HTTP/2 through (c) and (e) (nginx's h2 listener).
 *
 * `npm run bench -- front [--quick] [--only idle,echo,http,static,h2] [--cpu-prof <folder>]`:
 * `--quick` runs a tenth of the load, for trying the benchmark out; `--only` runs some of the
 * measures;
 * `--cpu-prof` afterwards profiles the manager during one more HTTP run through (b) and (c),
 * writes the `.cpuprofile` files there and prints where the time goes.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import type { AppStatus } from '../src/api/index.js';
import { tlsServerOptions } from '../src/core/tls/index.js';
import {
  cli,
  killAll,
  makeTemp,
  removeTemp,
  repoRoot,
  startDaemon,
  waitForApp,
  waitForInstance,
  type Daemon,
} from '../test/helpers/daemon.js';
import type { ClientCommand, ClientReply, ClientTarget } from './front-client.js';
import {
  Inspector,
  inspectorUrl,
  selfTimes,
  selfTimesByArea,
  type CpuProfile,
} from './inspector.js';
import { findNginx, startNginx, type Nginx } from './nginx.js';
import { cpuSeconds, openFileLimit, percentile, printGrid, printTable, rssMiB } from './report.js';

const app = 'front-echo';
const instance = 'b1';
const path = `/bench.example/${instance}/`;
/** What the service needs to be told when it is reached without the manager. */
const instanceHeader = { 'x-appvisor-instance': instance };

interface Sizes {
  idle: number;
  echo: number;
  warmupMs: number;
  echoMs: number;
  httpConnections: number;
  httpSeconds: number;
}

const fullSizes: Sizes = {
  idle: 10_000,
  echo: 1_000,
  warmupMs: 2_000,
  echoMs: 10_000,
  httpConnections: 50,
  httpSeconds: 10,
};
const quickSizes: Sizes = {
  idle: 1_000,
  echo: 100,
  warmupMs: 1_000,
  echoMs: 3_000,
  httpConnections: 50,
  httpSeconds: 3,
};

/**
 * HTTP/2 load: connections in all (spread over the client processes) and requests in flight on
 * each, 64 at once like the 50 connections of HTTP/1.1, as a browser would send them: few
 * connections, many streams.
 */
const http2Load = { connections: 8, streams: 8 };

/** Client processes; each opens its share of the sockets. */
const clientCount = 4;
/**
 * Source addresses per client process: the front lets one client address hold 1,000
 * connections (front.maxConnectionsPerClient, kept at its default), so 10,000 sockets come
 * from 20 addresses of 127.0.0.0/8, 500 each.
 */
const addressesPerClient = 5;
/** Handshakes in flight per client process. */
const openConcurrency = 32;
const idleMs = 5_000;
/** The whole run; a hung step ends it rather than the machine's patience. */
const runLimitMs = 40 * 60_000;
/** Descriptors the manager and nginx are given when the system allows it. */
const wantedFds = 65_536;
/** Descriptors a proxy needs besides those of the WebSockets (listeners, database, logs). */
const spareFds = 300;

/** How many WebSockets a proxy with `limit` descriptors can hold. */
function socketsFitting(limit: number): number {
  return Math.floor((limit - spareFds) / 2);
}

type ColumnKey = 'direct' | 'tcp' | 'handoff' | 'https' | 'nginx' | 'nginxTls';

/** The static files of the benchmark, below the instance's path; written into the package. */
const staticFiles = [
  { name: '20 KB', file: 'files/20k.bin', bytes: 20 * 1024 },
  { name: '2 MB', file: 'files/2m.bin', bytes: 2 * 1024 * 1024 },
] as const;

interface Column {
  key: ColumnKey;
  label: string;
  /** What the client speaks to it: nginx's column on the same protocol is the reference. */
  scheme: 'http' | 'https';
  /** Whether it serves the app's `web.static` files (the front and nginx; not the service). */
  servesStatic: boolean;
  /** WebSocket URL and headers; source addresses are added per client. */
  ws: { url: string; headers: Record<string, string>; tcp: boolean };
  http: { url: string; socketPath?: string; headers: Record<string, string> };
  /** The same HTTPS origin and path where HTTP/2 is offered; absent: no HTTP/2 measure. */
  h2Url?: string;
  viaManager: boolean;
  /** The most WebSockets the path can hold open (descriptor limits); Infinity: no limit. */
  maxSockets: number;
}

interface Setup {
  daemon: Daemon;
  managerPid: number;
  servicePid: number;
  serviceSocket: string;
  inspector: Inspector;
  nginx: Nginx | undefined;
  clients: Client[];
  columns: Column[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Things to undo, last first: also on failure and on Ctrl-C. */
class Cleanup {
  readonly #steps: (() => unknown)[] = [];
  #running: Promise<void> | undefined;

  add(step: () => unknown): void {
    this.#steps.push(step);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
        try {
          await step();
        } catch (error) {
          process.stderr.write(`cleanup: ${String(error)}\n`);
        }
      }
    })();
    return this.#running;
  }
}

/** A client process (bench/front-client.ts) and its one command at a time. */
class Client {
  readonly #child: ChildProcess;
  #waiting: { resolve: (reply: ClientReply) => void; reject: (error: Error) => void } | undefined;

  constructor() {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'front-client.js');
    // Advanced serialization carries the latency arrays as typed arrays, not JSON text.
    this.#child = fork(script, [], { serialization: 'advanced', stdio: 'inherit' });
    this.#child.on('message', (reply: ClientReply) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (reply.type === 'failed') waiting?.reject(new Error(`client: ${reply.error}`));
      else waiting?.resolve(reply);
    });
    this.#child.once('exit', (code, signal) => {
      this.#waiting?.reject(new Error(`a client exited (${code ?? signal ?? '?'})`));
      this.#waiting = undefined;
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  send<T extends ClientReply['type']>(
    command: ClientCommand,
    expect: T,
    timeoutMs: number,
  ): Promise<Extract<ClientReply, { type: T }>> {
    if (this.#waiting) throw new Error('a client was sent two commands at once');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        reject(new Error(`a client did not finish ${command.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply.type === expect) resolve(reply as Extract<ClientReply, { type: T }>);
          else reject(new Error(`a client answered ${reply.type} to ${command.type}`));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#child.send(command);
    });
  }

  stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      // The client exits when its channel closes; a stuck one gets the KILL above.
      if (child.connected) child.disconnect();
      else child.kill('SIGTERM');
    });
  }
}

function targetFor(column: Column, client: number): ClientTarget {
  const localAddresses = column.ws.tcp
    ? Array.from(
        { length: addressesPerClient },
        (_, i) => `127.0.0.${10 + client * addressesPerClient + i}`,
      )
    : [];
  return { url: column.ws.url, headers: column.ws.headers, localAddresses };
}

/** Splits `total` over the clients as evenly as it goes. */
function shares(total: number): number[] {
  return Array.from(
    { length: clientCount },
    (_, i) => Math.floor(total / clientCount) + (i < total % clientCount ? 1 : 0),
  );
}

async function openSockets(setup: Setup, column: Column, total: number) {
  const began = performance.now();
  const counts = shares(total);
  const replies = await Promise.all(
    setup.clients.map((client, i) =>
      client.send(
        {
          type: 'open',
          target: targetFor(column, i),
          count: counts[i]!,
          concurrency: openConcurrency,
          timeoutMs: 240_000,
        },
        'opened',
        300_000,
      ),
    ),
  );
  return {
    open: replies.reduce((n, r) => n + r.open, 0),
    failed: replies.reduce((n, r) => n + r.failed, 0),
    firstError: replies.find((r) => r.firstError)?.firstError ?? null,
    seconds: (performance.now() - began) / 1000,
  };
}

async function closeSockets(setup: Setup): Promise<number> {
  const replies = await Promise.all(
    setup.clients.map((client) =>
      client.send({ type: 'close', timeoutMs: 30_000 }, 'closed', 60_000),
    ),
  );
  return replies.reduce((n, r) => n + r.dropped, 0);
}

// --- readings -----------------------------------------------------------------------------

async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** A GET straight to the service's socket; its body as text. */
function getOnSocket(socketPath: string, url: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { socketPath, path: url, headers: instanceHeader, agent: false, timeout: 60_000 },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.once('end', () => {
          resolvePromise(text);
        });
      },
    );
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** CPU seconds used over a span of `seconds`, by process. */
interface Cpu {
  seconds: number;
  manager: number;
  service: number;
  nginx: number | undefined;
  /** The load's own processes: the WebSocket clients, or this one running autocannon. */
  clients: number;
}

async function cpuNow(setup: Setup, clients: number[]): Promise<Cpu> {
  let used = 0;
  for (const pid of clients) used += await cpuSeconds(pid);
  return {
    seconds: performance.now() / 1000,
    manager: await cpuSeconds(setup.managerPid),
    service: await cpuSeconds(setup.servicePid),
    nginx: setup.nginx ? await cpuSeconds(setup.nginx.workerPid) : undefined,
    clients: used,
  };
}

function cpuBetween(start: Cpu, end: Cpu): Cpu {
  return {
    seconds: end.seconds - start.seconds,
    manager: end.manager - start.manager,
    service: end.service - start.service,
    nginx:
      end.nginx !== undefined && start.nginx !== undefined ? end.nginx - start.nginx : undefined,
    clients: end.clients - start.clients,
  };
}

interface Memory {
  manager: number;
  service: number;
  nginx: number | undefined;
}

async function readMemory(setup: Setup): Promise<Memory> {
  return {
    manager: (await rssMiB(setup.managerPid)) * 1024,
    service: (await rssMiB(setup.servicePid)) * 1024,
    nginx: setup.nginx ? (await rssMiB(setup.nginx.workerPid)) * 1024 : undefined,
  };
}

/**
 * RSS in KiB of the manager, the service and nginx's worker, after full GCs. One GC is not
 * enough: the service's RSS went on dropping in steps of ~8 MB for about 6 s of GCs a second
 * apart after its sockets closed (trial runs), while two readings in a row could be equal. So
 * GCs go on until RSS has held still for 5 s.
 */
async function memory(setup: Setup): Promise<Memory> {
  const readings: Memory[] = [];
  const still = (key: 'manager' | 'service') => {
    const last = readings.slice(-6).map((m) => m[key]);
    return Math.max(...last) - Math.min(...last) < 1024;
  };
  for (let round = 0; round < 30; round++) {
    await setup.inspector.collectGarbage();
    await getOnSocket(setup.serviceSocket, `${path}gc`);
    // Freed pages go back to the system shortly after a GC, not during it.
    await sleep(1_000);
    readings.push(await readMemory(setup));
    if (readings.length >= 6 && still('manager') && still('service')) break;
  }
  return readings.at(-1)!;
}

/**
 * Waits until the manager and the service hold no more descriptors than at the start (plus
 * pooled keep-alive connections): the previous column's sockets are all gone.
 */
async function settle(setup: Setup, baseline: { manager: number; service: number }) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const manager = await fdCount(setup.managerPid);
    const service = await fdCount(setup.servicePid);
    if (manager <= baseline.manager + 100 && service <= baseline.service + 100) break;
    await sleep(250);
  }
  await sleep(2_000);
}

// --- measures -----------------------------------------------------------------------------

interface IdleResult {
  column: Column;
  open: number;
  failed: number;
  firstError: string | null;
  dropped: number;
  openSeconds: number;
  before: Memory;
  after: Memory;
  managerFds: number;
}

async function idle(
  setup: Setup,
  column: Column,
  sizes: Sizes,
  baseline: { manager: number; service: number },
): Promise<IdleResult> {
  // An unmeasured round first, so the code paths are compiled and the first column does not
  // pay for what the later ones get warm.
  await openSockets(setup, column, Math.min(1_000, sizes.idle));
  await closeSockets(setup);
  await settle(setup, baseline);

  const before = await memory(setup);
  const opened = await openSockets(setup, column, Math.min(sizes.idle, column.maxSockets));
  await sleep(idleMs);
  const managerFds = await fdCount(setup.managerPid);
  const after = await memory(setup);
  const dropped = await closeSockets(setup);
  await settle(setup, baseline);
  return {
    column,
    open: opened.open,
    failed: opened.failed,
    firstError: opened.firstError,
    dropped,
    openSeconds: opened.seconds,
    before,
    after,
    managerFds,
  };
}

interface EchoResult {
  column: Column;
  open: number;
  failed: number;
  firstError: string | null;
  perSecond: number;
  p50: number;
  p99: number;
  unanswered: number;
  cpu: Cpu;
}

async function echo(
  setup: Setup,
  column: Column,
  sizes: Sizes,
  baseline: { manager: number; service: number },
): Promise<EchoResult> {
  const opened = await openSockets(setup, column, sizes.echo);
  const pids = setup.clients.map((client) => client.pid);
  const replying = Promise.all(
    setup.clients.map((client) =>
      client.send(
        {
          type: 'echo',
          warmupMs: sizes.warmupMs,
          durationMs: sizes.echoMs,
          message: 'x'.repeat(64),
        },
        'echoed',
        sizes.warmupMs + sizes.echoMs + 60_000,
      ),
    ),
  );
  // CPU over the clients' measured window (to within the IPC's latency).
  await sleep(sizes.warmupMs);
  const cpuStart = await cpuNow(setup, pids);
  await sleep(sizes.echoMs);
  const cpu = cpuBetween(cpuStart, await cpuNow(setup, pids));
  const replies = await replying;
  await closeSockets(setup);
  await settle(setup, baseline);
  const latencies: number[] = [];
  for (const reply of replies) for (const value of reply.latencies) latencies.push(value);
  return {
    column,
    open: opened.open,
    failed: opened.failed,
    firstError: opened.firstError,
    perSecond: latencies.length / (sizes.echoMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    unanswered: replies.reduce((n, r) => n + r.unanswered, 0),
    cpu,
  };
}

interface HttpResult {
  column: Column;
  perSecond: number;
  bytesPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  cpu: Cpu;
}

function cannon(
  column: Column,
  sizes: Sizes,
  seconds: number,
  file = '',
): Promise<autocannon.Result> {
  return autocannon({
    url: column.http.url + file,
    ...(column.http.socketPath ? { socketPath: column.http.socketPath } : {}),
    headers: column.http.headers,
    connections: sizes.httpConnections,
    duration: seconds,
  });
}

/** GETs of the service's short answer, or of `file` below the instance's path. */
async function httpGets(
  setup: Setup,
  column: Column,
  sizes: Sizes,
  file = '',
): Promise<HttpResult> {
  // Warm-up: connections made, TLS sessions set up, code compiled.
  await cannon(column, sizes, 2, file);
  const cpuStart = await cpuNow(setup, [process.pid]);
  const result = await cannon(column, sizes, sizes.httpSeconds, file);
  const cpu = cpuBetween(cpuStart, await cpuNow(setup, [process.pid]));
  return {
    column,
    perSecond: result.requests.total / result.duration,
    bytesPerSecond: result.throughput.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpu,
  };
}

/**
 * GETs of a static file from the client processes (autocannon's one process would be the
 * bottleneck on large bodies), `sizes.httpConnections` connections shared among them.
 */
async function staticGets(
  setup: Setup,
  clients: Client[],
  column: Column,
  sizes: Sizes,
  file: string,
  http2?: { connections: number; streams: number },
): Promise<HttpResult> {
  const pids = clients.map((client) => client.pid);
  const counts = shares(http2 ? http2.connections : sizes.httpConnections);
  const durationMs = sizes.httpSeconds * 1000;
  const replying = Promise.all(
    clients.map((client, i) =>
      client.send(
        {
          type: 'get',
          url: (http2 ? (column.h2Url ?? '') : column.http.url) + file,
          headers: column.http.headers,
          connections: counts[i]!,
          warmupMs: sizes.warmupMs,
          durationMs,
          ...(http2 ? { http2Streams: http2.streams } : {}),
        },
        'got',
        sizes.warmupMs + durationMs + 120_000,
      ),
    ),
  );
  await sleep(sizes.warmupMs);
  const cpuStart = await cpuNow(setup, pids);
  await sleep(durationMs);
  const cpu = cpuBetween(cpuStart, await cpuNow(setup, pids));
  const replies = await replying;
  const latencies: number[] = [];
  for (const reply of replies) for (const value of reply.latencies) latencies.push(value);
  const seconds = durationMs / 1000;
  return {
    column,
    perSecond: latencies.length / seconds,
    bytesPerSecond: replies.reduce((n, r) => n + r.bytes, 0) / seconds,
    p50: Number(percentile(latencies, 50).toFixed(1)),
    p99: Number(percentile(latencies, 99).toFixed(1)),
    errors: replies.reduce((n, r) => n + r.errors, 0),
    non2xx: replies.reduce((n, r) => n + r.non2xx, 0),
    cpu,
  };
}

/** One more HTTP run with the manager's CPU profiled; prints where its time goes. */
async function profileHttp(setup: Setup, column: Column, sizes: Sizes, folder: string) {
  const { inspector } = setup;
  await inspector.call('Profiler.enable');
  await inspector.call('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.call('Profiler.start');
  const result = await cannon(column, sizes, sizes.httpSeconds);
  const { profile } = await inspector.call<{ profile: CpuProfile }>('Profiler.stop');
  await inspector.call('Profiler.disable');
  const file = join(folder, `manager-${column.key}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  printTable(
    `manager CPU profile, HTTP GETs via ${column.label} (${Math.round(result.requests.total / result.duration)} req/s while profiled; ${file})`,
    [
      ...selfTimesByArea(profile)
        .slice(0, 12)
        .map(({ area, share }): [string, string] => [area, pct(share)]),
      ['', ''],
      ...selfTimes(profile)
        .slice(0, 15)
        .map(({ name, where, share }): [string, string] => [`${name} ${where}`, pct(share)]),
    ],
  );
}

// --- setup --------------------------------------------------------------------------------

async function prepare(work: string, cleanup: Cleanup, notes: string[]): Promise<Setup> {
  const data = join(work, 'data');
  cleanup.add(() => killAll(data));
  const daemon = await startDaemon({ data, nodeArgs: ['--inspect=127.0.0.1:0'] });
  // A daemon that does not stop within the grace is killed by the step before.
  cleanup.add(() => Promise.race([daemon.stop(), sleep(30_000)]));
  const managerPid = daemon.child.pid!;
  // A proxy holds two descriptors per WebSocket (client and service side): 10,000 of them do
  // not fit the usual limit of 20,000. Raised before the service starts, which inherits it;
  // where that is not allowed (no CAP_SYS_RESOURCE), the proxied columns get fewer sockets.
  await promisify(execFile)('prlimit', [
    '--pid',
    String(managerPid),
    `--nofile=${wantedFds}`,
  ]).catch(() => undefined);
  const managerFds = await openFileLimit(managerPid);
  const url = inspectorUrl(daemon.stderr());
  if (!url) throw new Error(`the manager printed no inspector URL:\n${daemon.stderr()}`);
  const inspector = await Inspector.connect(url);
  cleanup.add(() => {
    inspector.close();
  });

  // The package with its static files, written here rather than kept in the repository.
  const packageDir = join(work, app);
  await cp(join(repoRoot, 'bench', 'fixtures', app), packageDir, { recursive: true });
  await mkdir(join(packageDir, 'static', 'files'));
  for (const { file, bytes } of staticFiles)
    await writeFile(join(packageDir, 'static', file), randomBytes(bytes));
  const installed = await cli(['app', 'install', packageDir, '--autostart', '--data', data]);
  if (installed.code !== 0) throw new Error(`install: ${installed.stderr}`);
  await waitForApp(daemon, app);
  const created = await cli([
    'instance',
    'create',
    app,
    instance,
    '--domain',
    'bench.example',
    '--data',
    data,
  ]);
  if (created.code !== 0) throw new Error(`instance create: ${created.stderr}`);
  await waitForInstance(daemon, instance);
  const status: AppStatus = await waitForApp(daemon, app);
  if (!status.httpSocket || !status.pid) throw new Error('the service has no socket or pid');
  const serviceSocket = status.httpSocket;
  const tcpPort = Number(await getOnSocket(serviceSocket, `${path}tcp-port`));
  if (!(tcpPort > 0)) throw new Error('the service told no TCP port');

  let nginx: Nginx | undefined;
  const binary = await findNginx();
  if (binary) {
    const prefix = join(work, 'nginx');
    await mkdir(prefix);
    nginx = await startNginx({
      binary,
      prefix,
      socket: serviceSocket,
      headers: instanceHeader,
      tls: { cert: join(data, 'tls', 'cert.pem'), key: join(data, 'tls', 'key.pem') },
      files: { prefix: `${path}files/`, folder: `${join(packageDir, 'static', 'files')}/` },
      // TLS 1.3's suites are not set by ssl_ciphers (nginx 1.22 keeps OpenSSL's, the same).
      ciphers: tlsServerOptions.ciphers
        .split(':')
        .filter((suite) => !suite.startsWith('TLS_'))
        .join(':'),
    });
    cleanup.add(() => nginx?.stop());
  } else {
    process.stdout.write('nginx not found: apt-get install nginx-light (or nginx)\n');
    notes.push('nginx not found: its column is left out');
  }

  const clients = Array.from({ length: clientCount }, () => new Client());
  cleanup.add(() => Promise.all(clients.map((client) => client.stop())));

  const http = new URL(daemon.httpUrl);
  const https = new URL(daemon.httpsUrl);
  const columns: Column[] = [
    {
      key: 'direct',
      label: '(a) direct',
      scheme: 'http',
      servesStatic: false,
      ws: { url: `ws+unix://${serviceSocket}:${path}`, headers: instanceHeader, tcp: false },
      http: { url: `http://localhost${path}`, socketPath: serviceSocket, headers: instanceHeader },
      viaManager: false,
      maxSockets: Infinity,
    },
    {
      key: 'tcp',
      label: "(a') direct TCP",
      scheme: 'http',
      servesStatic: false,
      ws: { url: `ws://127.0.0.1:${tcpPort}${path}`, headers: instanceHeader, tcp: true },
      http: { url: `http://127.0.0.1:${tcpPort}${path}`, headers: instanceHeader },
      viaManager: false,
      maxSockets: Infinity,
    },
    {
      key: 'handoff',
      label: '(b) appvisor HTTP',
      scheme: 'http',
      servesStatic: true,
      ws: { url: `ws://${http.host}${path}`, headers: {}, tcp: true },
      http: { url: `http://${http.host}${path}`, headers: {} },
      viaManager: true,
      // Handed over: the manager keeps no descriptor.
      maxSockets: Infinity,
    },
    {
      key: 'https',
      label: '(c) appvisor HTTPS',
      scheme: 'https',
      servesStatic: true,
      ws: { url: `wss://${https.host}${path}`, headers: {}, tcp: true },
      http: { url: `https://${https.host}${path}`, headers: {} },
      // The same port: the front offers h2 by ALPN; autocannon and the WebSockets get HTTP/1.1.
      h2Url: `https://${https.host}${path}`,
      viaManager: true,
      maxSockets: socketsFitting(managerFds),
    },
  ];
  if (nginx) {
    columns.push({
      key: 'nginx',
      label: '(d) nginx',
      scheme: 'http',
      servesStatic: true,
      ws: { url: `ws://127.0.0.1:${nginx.port}${path}`, headers: {}, tcp: true },
      http: { url: `http://127.0.0.1:${nginx.port}${path}`, headers: {} },
      viaManager: false,
      maxSockets: socketsFitting(nginx.workerFds),
    });
    columns.push({
      key: 'nginxTls',
      label: '(e) nginx HTTPS',
      scheme: 'https',
      servesStatic: true,
      ws: { url: `wss://127.0.0.1:${nginx.tlsPort}${path}`, headers: {}, tcp: true },
      http: { url: `https://127.0.0.1:${nginx.tlsPort}${path}`, headers: {} },
      h2Url: `https://127.0.0.1:${nginx.h2Port}${path}`,
      viaManager: false,
      maxSockets: socketsFitting(nginx.workerFds),
    });
  }
  return {
    daemon,
    managerPid,
    servicePid: status.pid,
    serviceSocket,
    inspector,
    nginx,
    clients,
    columns,
  };
}

// --- report -------------------------------------------------------------------------------

const kb = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '—');
const ratio = (value: number, base: number) => (base > 0 ? (value / base).toFixed(2) : '—');

const isNginx = (column: Column) => column.key === 'nginx' || column.key === 'nginxTls';

/** A rate against nginx's on the same protocol in the same run. */
function perNginx<T extends { column: Column; perSecond: number }>(results: T[], r: T): string {
  if (!r.column.viaManager) return '—';
  const reference = results.find((n) => isNginx(n.column) && n.column.scheme === r.column.scheme);
  return reference ? ratio(r.perSecond, reference.perSecond) : '—';
}

const cpuHead = ['proxy µs/op', 'app µs/op', 'manager %', 'app %', 'nginx %', 'clients %'];
/** CPU per operation of the proxy (the manager or nginx) and the app, then each one's load. */
function cpuCells(column: Column, cpu: Cpu, ops: number): string[] {
  const proxy = column.viaManager ? cpu.manager : isNginx(column) ? cpu.nginx : undefined;
  const perOp = (seconds: number | undefined) =>
    seconds === undefined || ops === 0 ? '—' : ((seconds / ops) * 1e6).toFixed(1);
  const pct = (seconds: number | undefined) =>
    seconds === undefined ? '—' : ((seconds / cpu.seconds) * 100).toFixed(0);
  return [
    perOp(proxy),
    perOp(cpu.service),
    pct(cpu.manager),
    pct(cpu.service),
    pct(cpu.nginx),
    pct(cpu.clients),
  ];
}

/** The columns of a table of GETs with their bytes (static files, HTTP/2). */
const transferHead = [
  'column',
  'requests/s',
  'MB/s',
  'p50 ms',
  'p99 ms',
  '× nginx',
  'errors',
  'non-2xx',
  ...cpuHead,
];

/** One result's row under {@link transferHead}, compared with nginx's among `results`. */
function transferRow(results: HttpResult[], r: HttpResult): string[] {
  return [
    r.column.label,
    r.perSecond.toFixed(0),
    (r.bytesPerSecond / 1e6).toFixed(0),
    String(r.p50),
    String(r.p99),
    perNginx(results, r),
    String(r.errors),
    String(r.non2xx),
    ...cpuCells(r.column, r.cpu, r.perSecond * r.cpu.seconds),
  ];
}

function report(
  idles: IdleResult[],
  echoes: EchoResult[],
  https: HttpResult[],
  statics: { name: string; results: HttpResult[] }[],
  h2s: { name: string; results: HttpResult[] }[],
  sizes: Sizes,
) {
  printGrid(
    `Up to ${sizes.idle.toLocaleString('en')} idle WebSockets per column: KB per connection (RSS after GC, after − before)`,
    ['column', 'open', 'failed', 'manager', 'app', 'nginx', 'manager fds open', 'open s'],
    idles.map((r) => [
      r.column.label,
      String(r.open),
      String(r.failed + r.dropped),
      r.column.viaManager ? kb((r.after.manager - r.before.manager) / r.open) : '—',
      kb((r.after.service - r.before.service) / r.open),
      isNginx(r.column) && r.after.nginx !== undefined && r.before.nginx !== undefined
        ? kb((r.after.nginx - r.before.nginx) / r.open)
        : '—',
      String(r.managerFds),
      r.openSeconds.toFixed(1),
    ]),
  );
  printGrid(
    'RSS readings, MiB (before → after)',
    ['column', 'manager', 'app', 'nginx worker'],
    idles.map((r) => [
      r.column.label,
      `${(r.before.manager / 1024).toFixed(1)} → ${(r.after.manager / 1024).toFixed(1)}`,
      `${(r.before.service / 1024).toFixed(1)} → ${(r.after.service / 1024).toFixed(1)}`,
      r.before.nginx !== undefined && r.after.nginx !== undefined
        ? `${(r.before.nginx / 1024).toFixed(1)} → ${(r.after.nginx / 1024).toFixed(1)}`
        : '—',
    ]),
  );
  const echoBase = echoes.find((r) => r.column.key === 'direct')?.perSecond ?? 0;
  printGrid(
    `echo round trips, ${sizes.echo.toLocaleString('en')} active WebSockets, ${sizes.echoMs / 1000} s after ${sizes.warmupMs / 1000} s warm-up`,
    ['column', 'round trips/s', 'p50 ms', 'p99 ms', '× direct', '× nginx', 'failed', ...cpuHead],
    echoes.map((r) => [
      r.column.label,
      r.perSecond.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      ratio(r.perSecond, echoBase),
      perNginx(echoes, r),
      String(r.failed + r.unanswered),
      ...cpuCells(r.column, r.cpu, r.perSecond * r.cpu.seconds),
    ]),
  );
  const httpBase = https.find((r) => r.column.key === 'direct')?.perSecond ?? 0;
  printGrid(
    `HTTP GET, ${sizes.httpConnections} connections, ${sizes.httpSeconds} s (autocannon)`,
    [
      'column',
      'requests/s',
      'p50 ms',
      'p99 ms',
      '× direct',
      '× nginx',
      'errors',
      'non-2xx',
      ...cpuHead,
    ],
    https.map((r) => [
      r.column.label,
      r.perSecond.toFixed(0),
      String(r.p50),
      String(r.p99),
      ratio(r.perSecond, httpBase),
      perNginx(https, r),
      String(r.errors),
      String(r.non2xx),
      ...cpuCells(r.column, r.cpu, r.perSecond * r.cpu.seconds),
    ]),
  );
  for (const { name, results } of statics) {
    printGrid(
      `static file of ${name} (web.static), ${sizes.httpConnections} connections from ${clientCount} processes, ${sizes.httpSeconds} s`,
      transferHead,
      results.map((r) => transferRow(results, r)),
    );
  }
  if (h2s.length > 0) {
    printGrid(
      `HTTP/2 over TLS, ${http2Load.connections} connections × ${http2Load.streams} requests in flight from ${clientCount} processes, ${sizes.httpSeconds} s`,
      ['GET of', ...transferHead],
      h2s.flatMap(({ name, results }) => results.map((r) => [name, ...transferRow(results, r)])),
    );
  }
  for (const r of [...idles, ...echoes]) {
    if (r.firstError) process.stdout.write(`${r.column.label}: first failure: ${r.firstError}\n`);
  }
}

type Measure = 'idle' | 'echo' | 'http' | 'static' | 'h2';

function parseArgs(args: string[]): {
  sizes: Sizes;
  profileFolder: string | undefined;
  measures: Set<Measure>;
} {
  let sizes = fullSizes;
  let profileFolder: string | undefined;
  let measures = new Set<Measure>(['idle', 'echo', 'http', 'static', 'h2']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--quick') sizes = quickSizes;
    else if (arg === '--cpu-prof' && args[i + 1]) profileFolder = resolve(args[++i]!);
    else if (arg === '--only' && args[i + 1])
      measures = new Set(
        args[++i]!.split(',').filter((m): m is Measure => measures.has(m as Measure)),
      );
    else throw new Error(`front: unknown argument ${arg ?? ''}`);
  }
  return { sizes, profileFolder, measures };
}

export async function front(): Promise<void> {
  const { sizes, profileFolder, measures } = parseArgs(process.argv.slice(3));
  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const limit = setTimeout(() => {
    process.stderr.write(`front: the run took over ${runLimitMs / 60_000} min: stopping\n`);
    void cleanup.run().finally(() => process.exit(1));
  }, runLimitMs);
  const notes: string[] = [];
  try {
    const work = await makeTemp('appvisor-bench-');
    cleanup.add(() => removeTemp(work));
    const setup = await prepare(work, cleanup, notes);
    const baseline = {
      manager: await fdCount(setup.managerPid),
      service: await fdCount(setup.servicePid),
    };
    const progress = (text: string) => process.stderr.write(`front: ${text}\n`);
    for (const column of setup.columns) {
      if (column.maxSockets < sizes.idle) {
        notes.push(
          `${column.label}: ${column.maxSockets} idle sockets, what its limit of open files ` +
            `(${column.maxSockets * 2 + spareFds}, not raisable here) allows at two per socket`,
        );
      }
    }

    const idles: IdleResult[] = [];
    for (const column of measures.has('idle') ? setup.columns : []) {
      progress(`idle WebSockets, ${column.label}`);
      idles.push(await idle(setup, column, sizes, baseline));
    }
    const echoes: EchoResult[] = [];
    for (const column of measures.has('echo') ? setup.columns : []) {
      progress(`echo, ${column.label}`);
      echoes.push(await echo(setup, column, sizes, baseline));
    }
    // The WebSocket clients are done; their memory and CPU are not the HTTP client's.
    await Promise.all(setup.clients.map((client) => client.stop()));
    const https: HttpResult[] = [];
    for (const column of measures.has('http') ? setup.columns : []) {
      progress(`HTTP GETs, ${column.label}`);
      https.push(await httpGets(setup, column, sizes));
    }

    const statics: { name: string; results: HttpResult[] }[] = [];
    const h2s: { name: string; results: HttpResult[] }[] = [];
    if (measures.has('static') || measures.has('h2')) {
      // Fresh client processes: the WebSocket ones are gone, with their memory.
      const getters = Array.from({ length: clientCount }, () => new Client());
      cleanup.add(() => Promise.all(getters.map((client) => client.stop())));
      for (const { name, file } of measures.has('static') ? staticFiles : []) {
        const results: HttpResult[] = [];
        for (const column of setup.columns.filter((c) => c.servesStatic)) {
          progress(`static ${name}, ${column.label}`);
          results.push(await staticGets(setup, getters, column, sizes, file));
        }
        statics.push({ name, results });
      }
      const h2Targets = [{ name: "the app's answer", file: '' }, ...staticFiles];
      for (const { name, file } of measures.has('h2') ? h2Targets : []) {
        const results: HttpResult[] = [];
        for (const column of setup.columns.filter((c) => c.h2Url !== undefined)) {
          progress(`HTTP/2 ${name}, ${column.label}`);
          results.push(await staticGets(setup, getters, column, sizes, file, http2Load));
        }
        h2s.push({ name, results });
      }
      await Promise.all(getters.map((client) => client.stop()));
    }

    report(idles, echoes, https, statics, h2s, sizes);
    if (profileFolder) {
      await mkdir(profileFolder, { recursive: true });
      for (const column of setup.columns.filter((c) => c.viaManager))
        await profileHttp(setup, column, sizes, profileFolder);
    }
    printTable('machine', [
      ['cpu', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
      ['memory', `${(totalmem() / 2 ** 30).toFixed(0)} GiB`],
      ['node', process.version],
      ['nginx', setup.nginx ? 'yes' : 'not installed'],
      ['date', new Date().toISOString()],
      ...notes.map((note): [string, string] => ['note', note]),
    ]);
  } finally {
    clearTimeout(limit);
    await cleanup.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
