/**
 * The backup benchmark: instances whose databases hold about 50 MB and 200 MB, backed up and
 * restored (as clones) through the real daemon; times, MB/s of database, and the manager's peak
 * RSS while each runs (sampled from /proc every 20 ms), so that memory can be compared across
 * sizes: streamed, it must not grow with the database. Beside each backup, in the same run, the
 * bare pipeline it cannot beat: the same pg_dump of the same database into gzip level 1 into
 * nothing (no archive, no digest, no disk); the backup's rate is reported as a ratio of it.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { BackupEntry } from '../src/api/index.js';
import { dumpDatabase } from '../src/core/backup/index.js';
import { connectAs, credentials } from '../test/helpers/database.js';
import {
  api,
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

/** Rounds of (bare pipeline, backup) per size; the best of each is kept (the machine may be busy). */
const rounds = 3;

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
  /** Seconds of the bare pipeline (pg_dump → gzip -1 → nothing), the best round. */
  bareSeconds: number;
  /** Seconds of the backup asked for through the API (no CLI process to start), best round. */
  apiSeconds: number;
  backup: Awaited<ReturnType<typeof measured>>;
  restore: Awaited<ReturnType<typeof measured>>;
}

/**
 * The bare pipeline: the WebAssembly pg_dump the manager uses (here in this process's worker),
 * of the instance's database as its role, into gzip level 1 into nothing. Answers its seconds.
 */
async function bare(daemon: Daemon, id: string): Promise<number> {
  const creds = await credentials(daemon, id);
  const started = process.hrtime.bigint();
  await pipeline(
    dumpDatabase({ host: '127.0.0.1', database: creds.user, ...creds }),
    createGzip({ level: 1 }),
    new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
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
  let bareSeconds = Infinity;
  let apiSeconds = Infinity;
  let made: (Run['backup'] & { result: BackupEntry }) | undefined;
  for (let round = 0; round < rounds; round++) {
    bareSeconds = Math.min(bareSeconds, await bare(daemon, id));
    const one = await measured(daemon, async () => {
      const out = await cli(['backup', 'create', id, '--json', '--data', data]);
      if (out.code !== 0) throw new Error(out.stderr);
      return JSON.parse(out.stdout) as BackupEntry;
    });
    if (!made || one.seconds < made.seconds) made = one;
    const viaApi = await measured(daemon, async () => {
      const answer = await api(daemon, 'POST', '/backups', { instance: id });
      if (answer.status !== 201) throw new Error(JSON.stringify(answer.body));
    });
    apiSeconds = Math.min(apiSeconds, viaApi.seconds);
  }
  const entry = made!.result;
  const restored = await measured(daemon, async () => {
    const out = await cli(['backup', 'restore', entry.file, '--as', `${id}-copy`, '--data', data]);
    if (out.code !== 0) throw new Error(out.stderr);
  });
  return {
    mib,
    archiveMiB: entry.size / 1024 / 1024,
    bareSeconds,
    apiSeconds,
    backup: made!,
    restore: restored,
  };
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
          `${label}: pg_dump → gzip -1 → nothing`,
          `${run.bareSeconds.toFixed(1)} s, ${(run.mib / run.bareSeconds).toFixed(1)} MiB/s`,
        ],
        [
          `${label}: backup (CLI)`,
          `${run.backup.seconds.toFixed(1)} s, ${(run.mib / run.backup.seconds).toFixed(1)} MiB/s`,
        ],
        [
          `${label}: backup (API)`,
          `${run.apiSeconds.toFixed(1)} s, ${(run.mib / run.apiSeconds).toFixed(1)} MiB/s`,
        ],
        [
          `${label}: backup ÷ bare pipeline`,
          `CLI ${(run.bareSeconds / run.backup.seconds).toFixed(2)}×, API ${(run.bareSeconds / run.apiSeconds).toFixed(2)}× (goal ≥ 0.8×)`,
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
