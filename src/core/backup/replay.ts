import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { AppvisorError } from '../errors/index.js';
import { DumpParser, type DumpPiece } from './dump-parser.js';

/** What a replay did. */
export interface ReplayResult {
  statements: number;
  copiedRows: number;
  /** `SET` lines this server rejected (parameters of a newer server). */
  skippedSettings: string[];
}

/** A `SET x = ...` or `SELECT pg_catalog.set_config(...)` line of the dump's preamble. */
const settingLine = /^(SET\s+\w+|SELECT\s+pg_catalog\.set_config\()/i;
/** SQLSTATEs of a parameter this server does not know or a value it does not take. */
const unknownSetting = new Set(['42704', '22023']);

function shorten(sql: string): string {
  const line = sql.replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

/** Writes to a COPY stream, waiting when it asks to (backpressure). */
function write(stream: CopyStreamQuery, data: string): Promise<void> | undefined {
  if (stream.write(data)) return undefined;
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      stream.off('drain', onDrain);
      reject(error);
    };
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

function finish(stream: CopyStreamQuery): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('finish', resolve);
    stream.once('error', reject);
    stream.end();
  });
}

/**
 * Replays a plain pg_dump script (as text bytes) into the database `config` connects to, in one
 * transaction: all of it or nothing. With `role`, as that role (SET ROLE first): objects are
 * made by it, and code of the dump that runs (a CHECK's function) has its rights, no more. psql meta-commands (`\restrict`, ...) are skipped; `SET`
 * lines this server rejects are skipped too (a dump of a newer server); COPY data is streamed
 * with backpressure. Throws `RESTORE_FAILED` naming the statement that failed.
 */
export async function replayDump(
  script: Readable,
  config: pg.ClientConfig,
  options: { signal?: AbortSignal; role?: string } = {},
): Promise<ReplayResult> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  const result: ReplayResult = { statements: 0, copiedRows: 0, skippedSettings: [] };
  const parser = new DumpParser();
  const decoder = new StringDecoder('utf8');
  let copy: CopyStreamQuery | undefined;
  let current = '';
  let copyError: Error | undefined;

  const run = async (piece: DumpPiece) => {
    switch (piece.kind) {
      case 'meta':
        return;
      case 'statement':
        current = piece.sql;
        result.statements++;
        if (settingLine.test(piece.sql)) {
          await client.query('SAVEPOINT setting');
          try {
            await client.query(piece.sql);
            await client.query('RELEASE SAVEPOINT setting');
          } catch (error) {
            if (!unknownSetting.has((error as { code?: string }).code ?? '')) throw error;
            await client.query('ROLLBACK TO SAVEPOINT setting');
            result.skippedSettings.push(piece.sql);
          }
          return;
        }
        await client.query(piece.sql);
        return;
      case 'copy':
        current = piece.sql;
        result.statements++;
        copy = client.query(copyFrom(piece.sql));
        // The server may refuse a row while nothing waits on the stream: keep the error for
        // the next write instead of letting it go unhandled.
        copyError = undefined;
        copy.on('error', (error: Error) => {
          copyError = error;
        });
        return;
      case 'copy-data':
        if (copyError) throw copyError;
        await write(copy!, piece.data);
        return;
      case 'copy-end':
        await finish(copy!);
        result.copiedRows += copy!.rowCount;
        copy = undefined;
        return;
    }
  };

  try {
    if (options.role !== undefined) {
      await client.query(`SET ROLE "${options.role.replace(/"/g, '""')}"`);
    }
    await client.query('BEGIN');
    for await (const chunk of script as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      for (const piece of parser.push(decoder.write(chunk))) await run(piece);
    }
    for (const piece of parser.push(decoder.end())) await run(piece);
    for (const piece of parser.end()) await run(piece);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    copy?.destroy();
    if (error instanceof AppvisorError || (error as Error).name === 'AbortError') throw error;
    const where = current ? ` in "${shorten(current)}"` : '';
    throw new AppvisorError(
      'RESTORE_FAILED',
      `the dump failed${where}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
