/**
 * The backup benchmark: an instance whose database holds about 200 MB, backed up and restored
 * (as a clone) through the real daemon; times, MB/s of the plain dump, and the manager's peak
 * RSS while each runs (sampled from /proc every 20 ms).
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

const targetBytes = 200 * 1024 * 1024;

/** Runs `task` while sampling the manager's RSS; returns its time and the peak. */
async function measured<T>(
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

export async function backup(): Promise<void> {
  const work = await makeTemp('appvisor-bench-');
  const data = join(work, 'data');
  const keepAlive = setInterval(() => undefined, 1000);
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon({ data });
    await echoWithInstance(daemon, 'big');
    const creds = await credentials(daemon, 'big');
    const client = await connectAs(creds, creds.user);
    // Rows of mixed text (moderately compressible, like real data) up to the target size.
    await client.query(
      'CREATE TABLE payload (id bigint PRIMARY KEY, label text, body text, n numeric)',
    );
    const rows = Math.round(targetBytes / 1100);
    await client.query(
      `INSERT INTO payload
         SELECT g, 'row ' || g, repeat(md5(g::text), 32), g * 1.5
         FROM generate_series(1, $1) g`,
      [rows],
    );
    const size = Number(
      (await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n'))
        .rows[0]!.n,
    );
    await client.end();

    const made = await measured(daemon, async () => {
      const out = await cli(['backup', 'create', 'big', '--json', '--data', data]);
      if (out.code !== 0) throw new Error(out.stderr);
      return JSON.parse(out.stdout) as BackupEntry;
    });
    const restored = await measured(daemon, async () => {
      const out = await cli([
        'backup',
        'restore',
        made.result.file,
        '--as',
        'big2',
        '--data',
        data,
      ]);
      if (out.code !== 0) throw new Error(out.stderr);
    });
    const mib = size / 1024 / 1024;
    const native = nativePgDump();
    printTable(
      `backup of a ${mib.toFixed(0)} MiB instance database (${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version})`,
      [
        ['archive', `${(made.result.size / 1024 / 1024).toFixed(1)} MiB`],
        [
          'backup',
          `${made.seconds.toFixed(1)} s, ${(mib / made.seconds).toFixed(1)} MiB/s of database`,
        ],
        [
          'backup: manager RSS',
          `${made.baseMiB.toFixed(0)} → peak ${made.peakMiB.toFixed(0)} MiB (+${(made.peakMiB - made.baseMiB).toFixed(0)})`,
        ],
        [
          'restore as a clone',
          `${restored.seconds.toFixed(1)} s, ${(mib / restored.seconds).toFixed(1)} MiB/s of database`,
        ],
        [
          'restore: manager RSS',
          `${restored.baseMiB.toFixed(0)} → peak ${restored.peakMiB.toFixed(0)} MiB (+${(restored.peakMiB - restored.baseMiB).toFixed(0)})`,
        ],
        [
          'native pg_dump',
          native
            ? `${native}: not used (a pg_dump older than the server's major cannot dump it)`
            : 'none installed',
        ],
      ],
    );
  } finally {
    clearInterval(keepAlive);
    if (daemon) await daemon.stop().catch(() => undefined);
    await killAll(data);
    await removeTemp(work);
  }
}
