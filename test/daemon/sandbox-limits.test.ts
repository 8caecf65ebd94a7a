import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AlarmsReport, AppStatus, StatusReport } from '../../src/api/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import {
  appStatus,
  cli,
  eventually,
  http,
  makeTemp,
  removeTemp,
  withDaemon,
} from '../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;
const pidsLimit = 64;

/**
 * A fork bomb with a bound of its own, so that the machine survives even when no limit holds:
 * at most 2,000 children, each of which leaves the process group (setsid) and sleeps 40 s, for
 * at most 20 s.
 */
const bombScript = `
const { spawn } = require('node:child_process');
const end = Date.now() + 20000;
let started = 0;
let failed = 0;
function more() {
  if (Date.now() > end || started >= 2000) return;
  for (let i = 0; i < 50 && started < 2000; i++) {
    try {
      const child = spawn('sleep', ['40'], { detached: true, stdio: 'ignore' });
      child.on('error', () => { failed++; });
      child.on('spawn', () => { started++; });
      child.unref();
    } catch {
      failed++;
    }
  }
  setTimeout(more, 20);
}
more();
setInterval(() => console.log('started', started, 'failed', failed), 1000);
`;

/** Allocates 300 MB in 10 MB steps, touching every page, then holds it. */
const hogScript = `
const held = [];
let mb = 0;
const step = setInterval(() => {
  held.push(Buffer.alloc(10 * 1024 * 1024, 1));
  mb += 10;
  console.log('holding', mb, 'MB');
  if (mb >= 300) clearInterval(step);
}, 50);
setInterval(() => {}, 1000);
`;

/** Answers every request with "steady": the app that must keep answering. */
const steadyScript = `
const port = Number(require('node:fs').readFileSync(process.env.APPVISOR_APP_DIR + '/port', 'utf8'));
require('node:http').createServer((req, res) => res.end('steady')).listen(port, '127.0.0.1');
`;

/** A free loopback port (closed again; the app listens on it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve(text);
      });
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** Pids of every process that runs as `uid`. */
async function processesOf(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(join('/proc', name, 'status'), 'utf8').catch(() => '');
    const real = /^Uid:\s+(\d+)/m.exec(text)?.[1];
    if (real !== undefined && Number(real) === uid) pids.push(Number(name));
  }
  return pids;
}

function killEvery(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

describe(
  'resource limits: a fork bomb and a memory hog leave the rest running',
  {
    skip: isRoot ? false : 'needs root: apps run as their own users',
  },
  () => {
    const running = withDaemon({ args: ['--set', 'apps.stopGraceSeconds=2'] });
    const uids: number[] = [];
    let work: string | undefined;

    after(async () => {
      // Whatever the outcome, nothing of the bomb survives the test.
      for (let round = 0; round < 5; round++) {
        for (const uid of uids) killEvery(await processesOf(uid));
      }
      if (work) await removeTemp(work);
    });

    test('the bomb stays at its process limit, the hog is restarted with an alarm, the manager and another app answer within a second', async () => {
      const { daemon } = running;
      work = await makeTemp('appvisor-limits-');
      const port = await freePort();
      const apps = {
        limitsteady: await makeAppFolder(work, 'limitsteady', {
          run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.js"',
          files: { 'main.js': steadyScript, port: String(port) },
        }),
        limitbomb: await makeAppFolder(work, 'limitbomb', {
          run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.js"',
          files: { 'main.js': bombScript },
        }),
        // The hog is a child: the kernel kills it, not the app's first process, which lives on.
        limithog: await makeAppFolder(work, 'limithog', {
          run: '"$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.js" &\nwhile true; do sleep 1; done',
          files: { 'main.js': hogScript },
        }),
      };
      for (const [id, folder] of Object.entries(apps)) {
        const install = await cli(['app', 'install', folder, '--data', daemon.data]);
        assert.equal(install.code, 0, install.stderr);
        uids.push((await stat(join(daemon.data, 'appdata', id))).uid);
      }
      const bombUid = uids[1]!;

      const pids = await cli([
        'app',
        'configure',
        'limitbomb',
        '--pids',
        String(pidsLimit),
        '--data',
        daemon.data,
      ]);
      assert.equal(pids.code, 0, pids.stderr);
      assert.match(pids.stdout, new RegExp(`${pidsLimit} processes \\(cgroup-v[12]\\)`));
      const memory = await cli([
        'app',
        'configure',
        'limithog',
        '--memory',
        '64M',
        '--data',
        daemon.data,
      ]);
      assert.equal(memory.code, 0, memory.stderr);
      assert.match(memory.stdout, /memory 64\.0 MiB/);

      const report = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/status'))
        .body as StatusReport;
      assert.match(report.limits.enforcement, /^cgroup-v[12]$/, JSON.stringify(report.limits));
      const status = await cli(['status', '--data', daemon.data]);
      assert.match(status.stdout, /limits\s+cgroup-v[12]/);

      for (const id of Object.keys(apps)) {
        const start = await cli(['app', 'start', id, '--data', daemon.data]);
        assert.equal(start.code, 0, start.stderr);
      }
      await eventually(
        async () => ((await get(port)) === 'steady' ? true : undefined),
        20_000,
        'steady answers',
      );

      // It joined its control groups before run, and runs as its own user with no way back to
      // root (every uid, and no capability).
      const steadyPid = (await appStatus(daemon, 'limitsteady')).pid!;
      const proc = await readFile(`/proc/${steadyPid}/status`, 'utf8');
      const steadyUid = String(uids[0]);
      assert.match(
        proc,
        new RegExp(`^Uid:\\s+${steadyUid}\\s+${steadyUid}\\s+${steadyUid}\\s+${steadyUid}$`, 'm'),
      );
      assert.match(proc, /^CapEff:\s+0+$/m);
      assert.match(proc, /^Groups:\s*$/m);
      const groups = await readFile(`/proc/${steadyPid}/cgroup`, 'utf8');
      assert.match(groups, /(pids|^0:):.*\/appvisor-[0-9a-f]{8}\/app-limitsteady$/m);

      // 12 s of attack: the manager and the steady app answer within a second, every time.
      let most = 0;
      const slow: string[] = [];
      const end = Date.now() + 12_000;
      while (Date.now() < end) {
        most = Math.max(most, (await processesOf(bombUid)).length);
        const manager = await timed(() =>
          http('GET', { socket: daemon.socket }, '/manager/api/v1/status'),
        );
        assert.equal(manager.value.status, 200);
        if (manager.ms > 1000) slow.push(`manager ${Math.round(manager.ms)} ms`);
        const steady = await timed(() => get(port));
        assert.equal(steady.value, 'steady');
        if (steady.ms > 1000) slow.push(`steady app ${Math.round(steady.ms)} ms`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(slow, [], 'answers slower than a second');
      assert.ok(most > 10, `the bomb ran (${most} processes)`);
      assert.ok(
        most <= pidsLimit,
        `the bomb had ${most} processes at once; the limit is ${pidsLimit}`,
      );

      const hog = await eventually(
        async () => {
          const current = await appStatus(daemon, 'limithog');
          return current.limits.memoryKills >= 1 && current.startCount >= 2 ? current : undefined;
        },
        30_000,
        'the hog killed for its memory cap and started again',
      );
      assert.equal(hog.limits.memoryMaxBytes, 64 * 1024 * 1024);
      const alarms = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/alarms'))
        .body as AlarmsReport;
      const alarm = alarms.alarms.find((a) => a.code === 'app-memory-limit');
      assert.ok(alarm, JSON.stringify(alarms));
      assert.equal(alarm.subject, 'limithog');

      // Stopped, the bomb leaves nothing behind, not even the children that left its group.
      const stop = await cli(['app', 'stop', 'limitbomb', '--data', daemon.data]);
      assert.equal(stop.code, 0, stop.stderr);
      await eventually(
        async () => ((await processesOf(bombUid)).length === 0 ? true : undefined),
        10_000,
        'no process of the bomb left after its stop',
      );
      const bomb: AppStatus = await appStatus(daemon, 'limitbomb');
      assert.equal(bomb.limits.pidsMax, pidsLimit);
    });
  },
);

describe(
  'resource limits without control groups: rlimits hold the fork bomb',
  {
    skip: isRoot ? false : "needs root: RLIMIT_NPROC counts the processes of the app's own user",
  },
  () => {
    const running = withDaemon({ args: ['--set', 'apps.limitsEnforcement=rlimit'] });
    let uid: number | undefined;
    let work: string | undefined;

    after(async () => {
      // Without control groups, children that left the process group survive the app's stop.
      for (let round = 0; round < 5; round++)
        if (uid !== undefined) killEvery(await processesOf(uid));
      if (work) await removeTemp(work);
    });

    test('status says rlimit; the bomb never has more processes than its limit', async () => {
      const { daemon } = running;
      work = await makeTemp('appvisor-rlimits-');
      const folder = await makeAppFolder(work, 'limitbomb', {
        run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.js"',
        files: { 'main.js': bombScript },
      });
      const install = await cli(['app', 'install', folder, '--data', daemon.data]);
      assert.equal(install.code, 0, install.stderr);
      uid = (await stat(join(daemon.data, 'appdata', 'limitbomb'))).uid;
      const pids = await cli([
        'app',
        'configure',
        'limitbomb',
        '--pids',
        String(pidsLimit),
        '--data',
        daemon.data,
      ]);
      assert.equal(pids.code, 0, pids.stderr);
      assert.match(pids.stdout, new RegExp(`${pidsLimit} processes \\(rlimit\\)`));
      const status = await cli(['status', '--data', daemon.data]);
      assert.match(status.stdout, /limits\s+rlimit \(apps\.limitsEnforcement is rlimit\)/);

      const start = await cli(['app', 'start', 'limitbomb', '--data', daemon.data]);
      assert.equal(start.code, 0, start.stderr);
      let most = 0;
      const end = Date.now() + 8_000;
      while (Date.now() < end) {
        most = Math.max(most, (await processesOf(uid)).length);
        const manager = await timed(() =>
          http('GET', { socket: daemon.socket }, '/manager/api/v1/status'),
        );
        assert.equal(manager.value.status, 200);
        assert.ok(manager.ms < 1000, `the manager answered in ${Math.round(manager.ms)} ms`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(most > 10, `the bomb ran (${most} processes)`);
      assert.ok(
        most <= pidsLimit,
        `the bomb had ${most} processes at once; the limit is ${pidsLimit}`,
      );
    });
  },
);
