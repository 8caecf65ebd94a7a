/**
 * The backup benchmark: instances whose databases hold about 50 MB and 200 MB, backed up and
 * restored (as clones) through the real daemon; times, MB/s of database, and the manager's peak
 * RSS while each runs (sampled from /proc every 20 ms), so that memory can be compared across
 * sizes: streamed, it must not grow with the database.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BackupEntry } from '../src/api/index.js';
import { connectAs, credentials } from '../test/helpers/database.js';
import {
  cli,
  echoWithInstance,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  type Daemon,
} from '../test/helpers/daemon.js';
import { printTable, rssMiB } from './report.js';

const sizesMiB = [50, 200];

/** Runs `task` while sampling the manager's RSS; returns its time and the peak (backup-remote.ts too). */
export async function measured<T>(
  daemon: Daemon,
  task: () => Promise<T>,
): Promise<{ result: T; seconds: number; peakMiB: number; baseMiB: number }> {
  const pid = daemon.child.pid!;
  const baseMiB = await rssMiB(pid);
  let peakMiB = baseMiB;
  const state = { sampling: true };
  const sampler = (async () => {
    while (state.sampling) {
      peakMiB = Math.max(peakMiB, await rssMiB(pid).catch(() => 0));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const started = process.hrtime.bigint();
  try {
    const result = await task();
    return {
      result,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      peakMiB,
      baseMiB,
    };
  } finally {
    state.sampling = false;
    await sampler;
  }
}

function nativePgDump(): string {
  try {
    return execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

interface Run {
  mib: number;
  archiveMiB: number;
  backup: Awaited<ReturnType<typeof measured>>;
  restore: Awaited<ReturnType<typeof measured>>;
}

/** Fills instance `id` with about `targetMiB` of hex text rows (compressing about 2:1). */
async function fill(daemon: Daemon, id: string, targetMiB: number): Promise<number> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  try {
    await client.query(
      'CREATE TABLE payload (id bigint PRIMARY KEY, label text, body text, n numeric)',
    );
    const rows = Math.round((targetMiB * 1024 * 1024) / 1100);
    await client.query(
      `INSERT INTO payload
         SELECT g, 'row ' || g,
                (SELECT string_agg(md5(g::text || ':' || i::text), '') FROM generate_series(1, 30) i),
                g * 1.5
           FROM generate_series(1, $1) g`,
      [rows],
    );
    const size = await client.query<{ n: string }>(
      'SELECT pg_database_size(current_database()) AS n',
    );
    return Number(size.rows[0]!.n) / 1024 / 1024;
  } finally {
    await client.end();
  }
}

async function runOnce(daemon: Daemon, data: string, id: string, targetMiB: number): Promise<Run> {
  await echoWithInstance(daemon, id, targetMiB === sizesMiB[0]);
  const mib = await fill(daemon, id, targetMiB);
  const made = await measured(daemon, async () => {
    const out = await cli(['backup', 'create', id, '--json', '--data', data]);
    if (out.code !== 0) throw new Error(out.stderr);
    return JSON.parse(out.stdout) as BackupEntry;
  });
  const entry = made.result;
  const restored = await measured(daemon, async () => {
    const out = await cli(['backup', 'restore', entry.file, '--as', `${id}-copy`, '--data', data]);
    if (out.code !== 0) throw new Error(out.stderr);
  });
  return { mib, archiveMiB: entry.size / 1024 / 1024, backup: made, restore: restored };
}

export async function backup(): Promise<void> {
  const work = await makeTemp('appvisor-bench-');
  const data = join(work, 'data');
  const keepAlive = setInterval(() => undefined, 1000);
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon({ data });
    const runs: Run[] = [];
    for (const size of sizesMiB) runs.push(await runOnce(daemon, data, `db${size}`, size));
    const rss = (m: Run['backup']) =>
      `${m.baseMiB.toFixed(0)} → ${m.peakMiB.toFixed(0)} MiB (+${(m.peakMiB - m.baseMiB).toFixed(0)})`;
    const rows: [string, string][] = [];
    for (const run of runs) {
      const label = `${run.mib.toFixed(0)} MiB`;
      rows.push(
        [`${label}: archive`, `${run.archiveMiB.toFixed(1)} MiB`],
        [
          `${label}: backup`,
          `${run.backup.seconds.toFixed(1)} s, ${(run.mib / run.backup.seconds).toFixed(1)} MiB/s`,
        ],
        [`${label}: backup, manager RSS`, rss(run.backup)],
        [
          `${label}: restore as a clone`,
          `${run.restore.seconds.toFixed(1)} s, ${(run.mib / run.restore.seconds).toFixed(1)} MiB/s`,
        ],
        [`${label}: restore, manager RSS`, rss(run.restore)],
      );
    }
    const native = nativePgDump();
    rows.push([
      'native pg_dump',
      native
        ? `${native}: not used (older than the server's major, it cannot dump it)`
        : 'none installed',
    ]);
    printTable(
      `backup and restore (${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version})`,
      rows,
    );
  } finally {
    clearInterval(keepAlive);
    if (daemon) await daemon.stop().catch(() => undefined);
    await killAll(data);
    await removeTemp(work);
  }
}
