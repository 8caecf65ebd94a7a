/**
 * What the SDK's own tracing costs: one in-process service with one instance on a real
 * PostgreSQL, measured three ways in alternating rounds — `bypass` (ServiceOptions.sdkTrace
 * false: no hook at all, the code as it was before tracing), `off` (hooks in, every flag off)
 * and `on` (`database`, `webserver`, `webserver-traffic`, `app-websocket` on; each line is
 * serialised as the IPC channel would, then dropped). It measures small HTTP GETs per second
 * over the service's Unix socket (autocannon, in a process of its own so that the client does
 * not share the service's thread) and `SELECT $1` queries per second through
 * `instance.db.query` (3 at a time, the pool's size). Each round runs the modes in another
 * order, so that none always goes first.
 *
 * `npm run bench -- sdk-trace [--quick]`: `--quick` runs short rounds, for trying it out.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createService, type Channel, type Instance, type InstanceInfo } from '../src/sdk/index.js';
import { makeTemp, removeTemp } from '../test/helpers/daemon.js';
import { makeInstanceDatabase, startPostgres } from '../test/helpers/embedded-postgres.js';
import { printGrid } from './report.js';

type Mode = 'bypass' | 'off' | 'on';
const modes: Mode[] = ['bypass', 'off', 'on'];
const allFlags = ['database', 'webserver', 'webserver-traffic', 'app-websocket'];

interface Sizes {
  rounds: number;
  seconds: number;
}

interface Running {
  instance: Instance;
  socket: string;
  lines: () => number;
  close: () => Promise<void>;
}

/** A service in this process with the one instance `b1`, ready. */
async function startService(
  root: string,
  mode: Mode,
  database: InstanceInfo['database'],
): Promise<Running> {
  const socket = join(root, `${mode}.sock`);
  let deliver: (message: unknown) => void = () => undefined;
  let lines = 0;
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const channel: Channel = {
    send(message) {
      // What the IPC channel would do with it: serialise it.
      JSON.stringify(message);
      const type = (message as { type: string }).type;
      if (type === 'log') lines++;
      if (type === 'instance.ready') ready();
    },
    onMessage: (listener) => (deliver = listener),
    onClose: () => undefined,
  };
  const service = createService(
    {
      start: () => ({
        http(_request, response) {
          response.setHeader('content-type', 'text/plain');
          response.end('ok');
        },
      }),
    },
    { channel, httpSocket: socket, exitOnShutdown: false, sdkTrace: mode !== 'bypass' },
  );
  const info: InstanceInfo = {
    id: 'b1',
    app: 'bench',
    domain: 'bench.example',
    path: '/bench.example/b1',
    password: 'bench',
    enabled: true,
    traceFlags: mode === 'on' ? allFlags : [],
    dataDir: join(root, 'data'),
    database,
  };
  // The first message may come before the server listens; the SDK queues nothing before it
  // has a listener, which createService sets at once.
  deliver({ type: 'instance.start', instance: info });
  await isReady;
  const instance = service.instances.get('b1');
  if (instance === undefined) throw new Error('the instance did not start');
  return { instance, socket, lines: () => lines, close: () => service.close() };
}

const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** One measure: operations per second, and this process's CPU time per operation. */
interface Rate {
  perSecond: number;
  cpuMicros: number;
}

/** CPU microseconds (user + system) this process used since `start`, per operation. */
function cpuPer(start: NodeJS.CpuUsage, operations: number): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / operations;
}

async function requests(running: Running, seconds: number): Promise<Rate> {
  const cpu = process.cpuUsage();
  const { stdout } = await promisify(execFile)(process.execPath, [
    autocannonCli,
    '--json',
    '-c',
    '20',
    '-d',
    String(seconds),
    '-S',
    running.socket,
    '-H',
    'x-appvisor-instance=b1',
    'http://localhost/bench.example/b1/',
  ]);
  const result = JSON.parse(stdout) as { requests: { average: number; total: number } };
  return { perSecond: result.requests.average, cpuMicros: cpuPer(cpu, result.requests.total) };
}

async function queries(running: Running, seconds: number): Promise<Rate> {
  const cpu = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  let count = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await running.instance.db.query('SELECT $1::int AS n', [count]);
      count++;
    }
  };
  const started = performance.now();
  await Promise.all([worker(), worker(), worker()]);
  return {
    perSecond: count / ((performance.now() - started) / 1000),
    cpuMicros: cpuPer(cpu, count),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

export async function sdkTrace(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const sizes: Sizes = quick ? { rounds: 1, seconds: 2 } : { rounds: 6, seconds: 5 };
  const root = await makeTemp('appvisor-bench-');
  const postgres = await startPostgres(root);
  try {
    const results: Record<Mode, { http: Rate[]; queries: Rate[]; lines: number }> = {
      bypass: { http: [], queries: [], lines: 0 },
      off: { http: [], queries: [], lines: 0 },
      on: { http: [], queries: [], lines: 0 },
    };
    const services = {} as Record<Mode, Running>;
    for (const mode of modes) {
      // A database each: an instance's role may hold 5 connections, and each pool takes 3.
      const db = await makeInstanceDatabase(postgres, `b${mode}`, 'bench-password');
      services[mode] = await startService(root, mode, { ...db, url: '' });
    }
    // Warm-up: code compiled, connections opened.
    for (const mode of modes) {
      await requests(services[mode], 1);
      await queries(services[mode], 1);
    }
    for (let round = 0; round < sizes.rounds; round++) {
      for (const mode of [...modes.slice(round % 3), ...modes.slice(0, round % 3)]) {
        results[mode].http.push(await requests(services[mode], sizes.seconds));
        results[mode].queries.push(await queries(services[mode], sizes.seconds));
      }
    }
    for (const mode of modes) {
      results[mode].lines = services[mode].lines();
      await services[mode].close();
    }
    const medianOf = (rates: Rate[]) => ({
      perSecond: median(rates.map((rate) => rate.perSecond)),
      cpuMicros: median(rates.map((rate) => rate.cpuMicros)),
    });
    const base = { http: medianOf(results.bypass.http), queries: medianOf(results.bypass.queries) };
    const cells = (rate: Rate, against: Rate) => [
      Math.round(rate.perSecond).toLocaleString('en'),
      (rate.perSecond / against.perSecond).toFixed(2),
      rate.cpuMicros.toFixed(1),
      (rate.cpuMicros / against.cpuMicros).toFixed(2),
    ];
    printGrid(
      `SDK tracing: medians of ${sizes.rounds} rounds of ${sizes.seconds} s (CPU: this process's, per operation)`,
      [
        'mode',
        'requests/s',
        '× bypass',
        'CPU µs/request',
        '× bypass',
        'queries/s',
        '× bypass',
        'CPU µs/query',
        '× bypass',
        'log lines',
      ],
      modes.map((mode) => [
        mode,
        ...cells(medianOf(results[mode].http), base.http),
        ...cells(medianOf(results[mode].queries), base.queries),
        results[mode].lines.toLocaleString('en'),
      ]),
    );
  } finally {
    await postgres.close();
    await removeTemp(root);
  }
}
