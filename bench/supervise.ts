/**
 * The app container's benchmark: crash-to-running time with restart delay 0, the time to
 * install and start 50 apps through the API, and the manager's memory and CPU with 50 idle apps.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import {
  AppSupervisor,
  defaultRestartPolicy,
  processLauncher,
  systemClock,
} from '../src/core/supervisor/index.js';
import { http, killAll, makeTemp, removeTemp, startDaemon } from '../test/helpers/daemon.js';
import { cpuSeconds, percentile, printTable, rssMiB } from './report.js';

async function crashToRunning(work: string, crashes: number): Promise<number[]> {
  const run = join(work, 'crashy-run');
  await writeFile(run, '#!/bin/sh\nexec sleep 1000\n');
  await chmod(run, 0o755);
  let spawnedAt: (() => void) | undefined;
  const supervisor = new AppSupervisor({
    id: 'crashy',
    spec: () => ({ command: run, args: [], cwd: work, env: { PATH: '/usr/bin:/bin' } }),
    policy: () => ({ ...defaultRestartPolicy, delaySeconds: 0, maxDelaySeconds: 0 }),
    graceMs: () => 1000,
    clock: systemClock,
    launcher: processLauncher,
    notify: (notice) => {
      if (notice.type === 'spawned') spawnedAt?.();
    },
  });
  const spawned = () => new Promise<void>((resolve) => (spawnedAt = resolve));
  let next = spawned();
  supervisor.start();
  await next;
  const times: number[] = [];
  for (let i = 0; i < crashes; i++) {
    const pid = supervisor.pid!;
    next = spawned();
    const began = performance.now();
    process.kill(pid, 'SIGKILL');
    await next;
    times.push(performance.now() - began);
  }
  await supervisor.stop();
  return times;
}

async function packageFor(work: string, id: string): Promise<Buffer> {
  const folder = join(work, 'packages', id);
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'run'),
    '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 60 & wait $!; done\n',
  );
  await chmod(join(folder, 'run'), 0o755);
  const chunks: Buffer[] = [];
  const pack = createTar({ gzip: true, cwd: join(work, 'packages'), portable: true }, [id]);
  for await (const chunk of pack) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function supervise(): Promise<void> {
  const work = await makeTemp('appvisor-bench-');
  // The supervisor's timers do not hold the process open (in the manager, servers do).
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const crashes = await crashToRunning(work, 100);
    printTable('crash → new process running (restart delay 0, 100 crashes)', [
      ['p50', `${percentile(crashes, 50).toFixed(1)} ms`],
      ['p99', `${percentile(crashes, 99).toFixed(1)} ms`],
      ['max', `${Math.max(...crashes).toFixed(1)} ms`],
    ]);

    const data = join(work, 'data');
    const daemon = await startDaemon({ data });
    try {
      const pid = daemon.child.pid!;
      const idleCpuBefore = await cpuSeconds(pid);
      const rssBefore = await rssMiB(pid);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      const idleNoApps = (await cpuSeconds(pid)) - idleCpuBefore;

      const packages = await Promise.all(
        Array.from({ length: 50 }, (_, i) => packageFor(work, `bench-${i}`)),
      );
      const began = performance.now();
      for (const [i, body] of packages.entries()) {
        const answer = await fetchUpload(
          daemon.socket,
          `/manager/api/v1/apps?autostart=true`,
          body,
        );
        if (answer.status !== 201)
          throw new Error(`install bench-${i}: ${answer.status} ${answer.text}`);
      }
      for (;;) {
        const { apps } = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/apps'))
          .body as { apps: { state: string }[] };
        if (apps.filter((a) => a.state === 'running').length === 50) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const installAll = performance.now() - began;

      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const cpuBefore = await cpuSeconds(pid);
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      const idleCpu = ((await cpuSeconds(pid)) - cpuBefore) / 30;
      const rss = await rssMiB(pid);
      printTable('install + start 50 apps, then 50 idle apps (real daemon)', [
        [
          'install + start 50 apps',
          `${(installAll / 1000).toFixed(2)} s (${(installAll / 50).toFixed(0)} ms per app)`,
        ],
        ['manager RSS, no apps', `${rssBefore.toFixed(1)} MiB`],
        ['manager RSS, 50 idle apps', `${rss.toFixed(1)} MiB`],
        ['manager CPU, no apps (10 s)', `${((idleNoApps / 10) * 100).toFixed(2)} %`],
        ['manager CPU, 50 idle apps (30 s)', `${(idleCpu * 100).toFixed(2)} %`],
      ]);
      await daemon.stop();
    } finally {
      await killAll(data);
    }
    printTable('machine', [
      ['cpu', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
      ['memory', `${(totalmem() / 2 ** 30).toFixed(0)} GiB`],
      ['node', process.version],
      ['date', new Date().toISOString()],
    ]);
  } finally {
    clearInterval(keepAlive);
    await removeTemp(work);
  }
}

async function fetchUpload(
  socket: string,
  path: string,
  body: Buffer,
): Promise<{ status: number; text: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, text });
        });
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
