import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import pg from 'pg';
import type { InstanceConnection } from '../instances/index.js';
import { unpackArchive } from './archive-read.js';
import { replayDump } from './replay.js';

/** A database to restore into, as whom (the instance's role, after SET ROLE). */
export type ScratchConnection = InstanceConnection;

/** What a verified backup proved. */
export interface VerifyReport {
  /** Tables whose rows were counted. */
  tables: number;
  rows: number;
  /** Seconds the test restore took. */
  seconds: number;
}

/** What {@link verifyArchive} needs. */
export interface VerifyInput {
  /** The archive, as a restore reads it. */
  path: string;
  passphrase?: string | undefined;
  /** A folder for the unpacked archive (on the archive's filesystem). */
  workDir: string;
  /** Runs `use` with a new empty database of the instance's role, dropped afterwards. */
  scratch: <T>(use: (connection: ScratchConnection) => Promise<T>) => Promise<T>;
}

/** A table name as pg_dump writes it in COPY: schema.table, each plain or double-quoted. */
const qualifiedName =
  /^(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")\.(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")$/;

/** Rows of each table, counted as `role` (the owner: row security does not hide any). */
async function countRows(
  connection: ScratchConnection,
  tables: readonly string[],
): Promise<Record<string, number>> {
  const { role, ...login } = connection;
  const client = new pg.Client({ ...login, application_name: 'appvisor verify' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`SET ROLE "${role.replace(/"/g, '""')}"`);
    const counts: Record<string, number> = {};
    for (const table of tables) {
      // The name comes from the archive: only a well-formed quoted name goes into SQL.
      if (!qualifiedName.test(table)) throw new Error(`the archive names a table ${table}`);
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${table}`);
      counts[table] = Number(rows[0]!.n);
    }
    return counts;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Proves that an archive restores: unpacks it as a restore does (every member against its
 * digest), replays its dump into a scratch database (one transaction, as the instance's role),
 * and compares the rows of every table with the counts the manifest recorded from the dump's
 * snapshot (archives of older versions have none: then the restore itself is the proof).
 * Throws an Error saying what failed; the scratch database and work files are gone after.
 */
export async function verifyArchive(input: VerifyInput): Promise<VerifyReport> {
  const started = Date.now();
  await mkdir(input.workDir, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(input.workDir, 'verify-'));
  try {
    const unpacked = await unpackArchive(input.path, work, input.passphrase);
    const counted = await input.scratch(async (connection) => {
      const { role, ...login } = connection;
      const replayed = await replayDump(
        createReadStream(unpacked.dumpFile).pipe(createGunzip()),
        { ...login, application_name: 'appvisor verify' },
        { role },
      );
      const expected = unpacked.manifest.tables ?? replayed.tables;
      return { expected, actual: await countRows(connection, Object.keys(expected)) };
    });
    const differences = Object.entries(counted.expected)
      .filter(([table, rows]) => counted.actual[table] !== rows)
      .map(([table, rows]) => `${table} has ${counted.actual[table]} rows, the dump ${rows}`);
    if (differences.length > 0) {
      const more = differences.length > 5 ? ` and ${differences.length - 5} more` : '';
      throw new Error(`row counts differ: ${differences.slice(0, 5).join('; ')}${more}`);
    }
    return {
      tables: Object.keys(counted.expected).length,
      rows: Object.values(counted.expected).reduce((sum, rows) => sum + rows, 0),
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
