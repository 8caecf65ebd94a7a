/**
 * The instances benchmark: create 200 instances of the echo service through the API, then
 * measure what they cost idle (service memory, database connections and memory) and how long
 * a service restart takes until all are ready again.
 */
import { readdir, readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AppStatus, InstanceView, StatusReport } from '../src/api/index.js';
import {
  cli,
  http,
  killAll,
  makeTemp,
  removeTemp,
  repoRoot,
  startDaemon,
  type Daemon,
} from '../test/helpers/daemon.js';
import { percentile, printTable, rssMiB } from './report.js';

const count = 200;

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function allReady(daemon: Daemon): Promise<boolean> {
  const { instances } = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/instances'))
    .body as { instances: InstanceView[] };
  return instances.length === count && instances.every((i) => i.state === 'ready');
}

/** Pids whose parent is `pid` (the postmaster's backends and helpers). */
async function children(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(entry));
  }
  return out;
}

export async function instances(): Promise<void> {
  const work = await makeTemp('appvisor-bench-');
  const data = join(work, 'data');
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const daemon = await startDaemon({ data });
    const install = await cli([
      'app',
      'install',
      join(repoRoot, 'examples', 'echo'),
      '--autostart',
      '--data',
      data,
    ]);
    if (install.code !== 0) throw new Error(install.stderr);
    const app = async () =>
      (await http('GET', { socket: daemon.socket }, '/manager/api/v1/apps/echo')).body as AppStatus;
    await until(async () => (await app()).state === 'running', 30_000);
    const serviceBefore = await rssMiB((await app()).pid!);

    const creates: number[] = [];
    for (let i = 0; i < count; i++) {
      const began = performance.now();
      const answer = await http('POST', { socket: daemon.socket }, '/manager/api/v1/instances', {
        body: { app: 'echo', id: `bench${i}`, domain: 'bench.example' },
      });
      creates.push(performance.now() - began);
      if (answer.status !== 201) throw new Error(`create ${i}: ${answer.text}`);
    }
    await until(() => allReady(daemon), 120_000);

    // Idle: the instances' pools close their connections after 10 s.
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const status = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/status'))
      .body as StatusReport;
    const admin = new pg.Client({
      host: join(data, 'run', 'postgres'),
      port: status.database.port,
      user: 'postgres',
      database: 'postgres',
    });
    await admin.connect();
    const held = (
      await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename LIKE 'i\\_%'",
      )
    ).rows[0]!.n;
    const backends = (
      await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'",
      )
    ).rows[0]!.n;
    await admin.end();
    const postmaster = status.database.pid!;
    let pgMemory = await rssMiB(postmaster);
    for (const child of await children(postmaster)) pgMemory += await rssMiB(child).catch(() => 0);
    const serviceAfter = await rssMiB((await app()).pid!);

    const restartBegan = performance.now();
    const restart = await cli(['app', 'restart', 'echo', '--data', data]);
    if (restart.code !== 0) throw new Error(restart.stderr);
    await until(() => allReady(daemon), 120_000);
    const restartMs = performance.now() - restartBegan;

    printTable(`${count} instances of examples/echo (real daemon, embedded PostgreSQL)`, [
      ['create p50', `${percentile(creates, 50).toFixed(0)} ms`],
      ['create p99', `${percentile(creates, 99).toFixed(0)} ms`],
      ['service RSS, 0 instances', `${serviceBefore.toFixed(1)} MiB`],
      [`service RSS, ${count} instances`, `${serviceAfter.toFixed(1)} MiB`],
      [
        'service RSS per instance',
        `${(((serviceAfter - serviceBefore) * 1024) / count).toFixed(0)} KiB`,
      ],
      ['instance connections, all idle', String(held)],
      ['client backends in all, idle', String(backends)],
      ['postgres RSS (postmaster + children)', `${pgMemory.toFixed(0)} MiB`],
      ['service restart → all ready', `${(restartMs / 1000).toFixed(2)} s`],
    ]);
    printTable('machine', [
      ['cpu', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
      ['memory', `${(totalmem() / 2 ** 30).toFixed(0)} GiB`],
      ['node', process.version],
      ['date', new Date().toISOString()],
    ]);
    await daemon.stop();
  } finally {
    clearInterval(keepAlive);
    await killAll(data);
    await removeTemp(work);
  }
}
