/**
 * The remote backup benchmark: one instance whose folder holds about 200 MB of incompressible
 * bytes, backed up to the backup folder (a plain local copy), then streamed to an S3 server
 * (s3rver) and a WebDAV server (webdav-server), both real servers on loopback in their own
 * processes; the rate and the manager's peak RSS of each (sampled every 20 ms). Streamed, the
 * manager's memory must not grow with the archive. Each backup is bounded to 5 minutes.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupEntry } from '../src/api/index.js';
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
import { startRemoteServer, type RemoteServer } from '../test/helpers/remote-servers.js';
import { measured } from './backup.js';
import { printTable } from './report.js';

const archiveMiB = Number(process.env.BENCH_REMOTE_MIB ?? 200);
const limitMs = 5 * 60_000;

/** Writes `mib` MiB of random bytes to `path`, 1 MiB at a time. */
async function bulk(path: string, mib: number): Promise<void> {
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < mib; i++) yield randomBytes(1024 * 1024);
      })(),
    ),
    createWriteStream(path),
  );
}

/** One backup of `id` (to `target` when given), bounded in time. */
async function backUp(daemon: Daemon, id: string, target?: string): Promise<BackupEntry> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`backup to ${target ?? 'the folder'} took over 5 min`));
    }, limitMs);
  });
  const answer = await Promise.race([
    api(daemon, 'POST', '/backups', { instance: id, ...(target ? { target } : {}) }),
    late,
  ]).finally(() => {
    clearTimeout(timer);
  });
  if (answer.status !== 201) throw new Error(JSON.stringify(answer.body));
  return answer.body as BackupEntry;
}

export async function backupRemote(): Promise<void> {
  const work = await makeTemp('appvisor-bench-remote-');
  const data = join(work, 'data');
  const keepAlive = setInterval(() => undefined, 1000);
  const servers: RemoteServer[] = [];
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon({ data });
    await echoWithInstance(daemon, 'big');
    await bulk(join(data, 'appdata', 'echo', 'big', 'bulk.bin'), archiveMiB);
    const secret = randomBytes(16).toString('hex');
    await mkdir(join(work, 's3'));
    await mkdir(join(work, 'dav', 'box'), { recursive: true });
    const s3 = await startRemoteServer('s3', join(work, 's3'), {
      REMOTE_KEY_ID: 'BENCH',
      REMOTE_SECRET: secret,
    });
    const dav = await startRemoteServer('webdav', join(work, 'dav'), {
      REMOTE_USER: 'bench',
      REMOTE_PASSWORD: secret,
    });
    servers.push(s3, dav);
    const secretFile = join(work, 'secret');
    await writeFile(secretFile, `${secret}\n`);
    const add = async (...args: string[]) => {
      const done = await cli(['backup', 'target', 'add', ...args, '--data', data]);
      if (done.code !== 0) throw new Error(done.stderr);
    };
    await add(
      's3',
      's3://backups/bench',
      '--endpoint',
      `http://127.0.0.1:${s3.port}`,
      '--access-key',
      'BENCH',
      '--secret-key-file',
      secretFile,
    );
    await add(
      'dav',
      `http://127.0.0.1:${dav.port}/box`,
      '--user',
      'bench',
      '--password-file',
      secretFile,
    );

    const rows: [string, string][] = [];
    for (const target of [undefined, 's3', 'dav']) {
      const run = await measured(daemon, () => backUp(daemon!, 'big', target));
      const mib = run.result.size / 1024 / 1024;
      const label =
        target === undefined
          ? 'local folder (plain copy)'
          : target === 's3'
            ? 'S3 (s3rver)'
            : 'WebDAV (webdav-server)';
      rows.push(
        [
          `${label}: archive`,
          `${mib.toFixed(1)} MiB in ${run.seconds.toFixed(1)} s, ${(mib / run.seconds).toFixed(1)} MiB/s`,
        ],
        [
          `${label}: manager RSS`,
          `${run.baseMiB.toFixed(0)} → ${run.peakMiB.toFixed(0)} MiB (+${(run.peakMiB - run.baseMiB).toFixed(0)})`,
        ],
      );
    }
    rows.push(
      [
        'machine',
        `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      ],
      ['node', process.version],
    );
    printTable(
      `backup to remote targets, ${archiveMiB} MiB of files (${new Date().toISOString().slice(0, 10)})`,
      rows,
    );
  } finally {
    clearInterval(keepAlive);
    for (const server of servers) await server.kill();
    if (daemon) await daemon.stop();
    await killAll(data);
    await removeTemp(work);
  }
}
