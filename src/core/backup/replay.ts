import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { AppvisorError } from '../errors/index.js';
import { DumpScript, type ScriptPiece } from './dump-script.js';

/** What a replay did. */
export interface ReplayResult {
  /** Queries of SQL text sent (each a run of whole TOC entries). */
  queries: number;
  copiedRows: number;
  /** Rows the server took per COPY target, as the dump names the table (`public.items`). */
  tables: Record<string, number>;
  /** `SET` lines this server rejected (parameters of a newer server). */
  skippedSettings: string[];
}

/** Options of {@link replayDump}. */
export interface ReplayOptions {
  signal?: AbortSignal | undefined;
  /** Run as this role (SET ROLE first). */
  role?: string | undefined;
  /** Entries are sent together up to about this many bytes of SQL (default 256 kB). */
  batchBytes?: number | undefined;
  /** ... and at most this many entries in one query (default 100). */
  batchEntries?: number | undefined;
}

/** SQLSTATEs of a parameter this server does not know or a value it does not take. */
const unknownSetting = new Set(['42704', '22023']);

interface Batch {
  sql: string[];
  bytes: number;
  /** Each entry's first line in the script, and in the batch's text (0-based). */
  entries: { line: number; title: string; at: number }[];
  /** Lines of the batch's text so far. */
  lines: number;
}

const emptyBatch = (): Batch => ({ sql: [], bytes: 0, entries: [], lines: 0 });

function shorten(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
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

/** The line of `text` that PostgreSQL's error position (1-based, in characters) points at. */
function lineAt(text: string, position: number): number {
  let line = 0;
  let characters = 0;
  for (const character of text) {
    if (++characters >= position) break;
    if (character === '\n') line++;
  }
  return line;
}

/** A failure where it happened: the line of the script and the entry's header. */
class Failure extends Error {
  constructor(
    readonly where: string,
    readonly error: unknown,
  ) {
    super(`${where}: ${(error as Error).message}`);
  }
}

/** A refused COPY row: the server names its line in the block (`COPY t, line 3, ...`). */
function copyFailure(copy: { where: string; dataLine: number }, error: unknown): Failure {
  const row = /^COPY .*, line (\d+)/m.exec((error as { where?: string }).where ?? '');
  if (!row) return new Failure(copy.where, error);
  const line = copy.dataLine + Number(row[1]) - 1;
  return new Failure(`at line ${line} ${copy.where.replace(/^at line \d+ /, '')}`, error);
}

/** An open COPY: its stream, its table, and where its data begins in the script. */
interface OpenCopy {
  stream: CopyStreamQuery;
  table: string;
  where: string;
  dataLine: number;
}

/**
 * One replay over one client: the batch of SQL being gathered, the COPY under way, and what
 * was done. {@link replayDump} feeds it the script's pieces in order.
 */
class Replay {
  readonly result: ReplayResult = { queries: 0, copiedRows: 0, tables: {}, skippedSettings: [] };
  readonly #client: pg.Client;
  readonly #batchBytes: number;
  readonly #batchEntries: number;
  #batch = emptyBatch();
  #began = false;
  #copy: OpenCopy | undefined;
  #copyError: Error | undefined;

  constructor(client: pg.Client, options: ReplayOptions) {
    this.#client = client;
    this.#batchBytes = options.batchBytes ?? 256 * 1024;
    this.#batchEntries = options.batchEntries ?? 100;
  }

  async begin(): Promise<void> {
    if (this.#began) return;
    await this.#client.query('BEGIN');
    this.#began = true;
  }

  /** The transaction must still be open: a dump's COMMIT or ROLLBACK would have ended it. */
  stillOne(where: string): void {
    if (this.#client.getTransactionStatus() !== 'T') {
      throw new Failure(where, new Error("the dump's SQL ended the restore's transaction"));
    }
  }

  /** Sends the gathered entries as one query; a failure names its line and entry. */
  async flush(): Promise<void> {
    if (this.#batch.entries.length === 0) return;
    const { sql, entries } = this.#batch;
    this.#batch = emptyBatch();
    const text = sql.join('\n');
    const first = entries[0]!;
    const last = entries.at(-1)!;
    const range =
      entries.length === 1
        ? `at line ${first.line} (${first.title})`
        : `in the entries at lines ${first.line} (${first.title}) to ${last.line} (${last.title})`;
    await this.begin();
    this.result.queries++;
    try {
      await this.#client.query(text);
    } catch (error) {
      const position = Number((error as { position?: string }).position);
      if (!Number.isInteger(position) || position < 1) throw new Failure(range, error);
      // The server says where: the line, and the entry it is in.
      const at = lineAt(text, position);
      const entry = entries.findLast((candidate) => candidate.at <= at) ?? first;
      const line = entry.line + at - entry.at;
      const excerpt = text.split('\n')[at] ?? '';
      throw new Failure(`at line ${line} (${entry.title}) in "${shorten(excerpt)}"`, error);
    }
    this.stillOne(range);
  }

  /** Carries out one piece of the script. */
  async run(piece: ScriptPiece): Promise<void> {
    switch (piece.kind) {
      case 'meta':
        await this.flush();
        return;
      case 'setting':
        await this.#setting(piece.sql, piece.line);
        return;
      case 'sql': {
        const batch = this.#batch;
        batch.entries.push({ line: piece.line, title: piece.title, at: batch.lines });
        batch.sql.push(piece.sql);
        batch.bytes += piece.sql.length;
        batch.lines += piece.sql.split('\n').length;
        if (batch.bytes >= this.#batchBytes || batch.entries.length >= this.#batchEntries) {
          await this.flush();
        }
        return;
      }
      case 'copy':
        await this.#openCopy(piece);
        return;
      case 'copy-data':
        if (this.#copyError) throw copyFailure(this.#copy!, this.#copyError);
        try {
          await write(this.#copy!.stream, piece.data);
        } catch (error) {
          throw copyFailure(this.#copy!, error);
        }
        return;
      case 'copy-end':
        await this.#endCopy();
        return;
    }
  }

  /**
   * A `SET` line: run before the transaction (the preamble is), where a rejected one aborts
   * nothing; one this server does not know is skipped.
   */
  async #setting(sql: string, line: number): Promise<void> {
    const encoding = /^SET client_encoding = '([^']*)';$/.exec(sql);
    if (encoding && encoding[1]!.toUpperCase() !== 'UTF8') {
      throw new Failure(
        `at line ${line}`,
        new Error(`the dump is in ${encoding[1]}; a restore reads UTF8 dumps`),
      );
    }
    await this.flush();
    try {
      await this.#client.query(sql);
    } catch (error) {
      if (this.#began || !unknownSetting.has((error as { code?: string }).code ?? '')) {
        throw new Failure(`at line ${line} in "${sql}"`, error);
      }
      this.result.skippedSettings.push(sql);
    }
  }

  async #openCopy(piece: Extract<ScriptPiece, { kind: 'copy' }>): Promise<void> {
    await this.flush();
    await this.begin();
    const where = `at line ${piece.line} (${piece.title})`;
    const stream = this.#client.query(copyFrom(piece.sql));
    this.#copy = {
      stream,
      table: piece.table,
      where,
      dataLine: piece.line + piece.sql.split('\n').length,
    };
    // The server may refuse a row while nothing waits on the stream: keep the error for
    // the next write instead of letting it go unhandled.
    this.#copyError = undefined;
    stream.on('error', (error: Error) => {
      this.#copyError = error;
    });
  }

  async #endCopy(): Promise<void> {
    const copy = this.#copy!;
    const { stream, table, where } = copy;
    try {
      await finish(stream);
    } catch (error) {
      throw copyFailure(copy, error);
    }
    this.result.copiedRows += stream.rowCount;
    this.result.tables[table] = (this.result.tables[table] ?? 0) + stream.rowCount;
    this.#copy = undefined;
    this.stillOne(where);
  }

  /** Stops a COPY under way (the replay failed). */
  abandon(): void {
    this.#copy?.stream.destroy();
  }
}

/** The pieces `produce` gives; a script it cannot read is a failure of the script. */
function pieces(produce: () => ScriptPiece[]): ScriptPiece[] {
  try {
    return produce();
  } catch (error) {
    throw new Failure('the script', error);
  }
}

/**
 * Replays a plain pg_dump script (as text bytes) into the database `config` connects to, in one
 * transaction: all of it or nothing. The script is cut only where it is not SQL (COPY data,
 * meta-commands; see dump-script.ts); the SQL between is sent as multi-statement queries of
 * whole TOC entries (the simple query protocol), for PostgreSQL to parse. Large objects' own
 * `BEGIN;`/`COMMIT;` are left out, and the transaction's state is checked after every query,
 * so nothing in a dump can end the restore's transaction early.
 *
 * With `role`, as that role (SET ROLE first): objects are made by it, and code of the dump
 * that runs (a CHECK's function) has its rights, no more. The preamble's `SET` lines run
 * before the transaction; those this server rejects (a parameter of a newer server) are
 * skipped. COPY data is streamed with backpressure.
 *
 * Throws `RESTORE_FAILED` naming the line of the script and the object it was restoring.
 */
export async function replayDump(
  script: Readable,
  config: pg.ClientConfig,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  const replay = new Replay(client, options);
  const parser = new DumpScript();
  const decoder = new StringDecoder('utf8');
  try {
    if (options.role !== undefined) {
      await client.query(`SET ROLE "${options.role.replace(/"/g, '""')}"`);
    }
    for await (const chunk of script as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      for (const piece of pieces(() => parser.push(decoder.write(chunk)))) await replay.run(piece);
    }
    for (const piece of pieces(() => parser.push(decoder.end()))) await replay.run(piece);
    for (const piece of pieces(() => parser.end())) await replay.run(piece);
    await replay.flush();
    await replay.begin();
    replay.stillOne('at the end');
    await client.query('COMMIT');
    return replay.result;
  } catch (error) {
    replay.abandon();
    if (error instanceof AppvisorError || (error as Error).name === 'AbortError') throw error;
    const cause = error instanceof Failure ? error.error : error;
    const where = error instanceof Failure ? ` ${error.where}` : '';
    throw new AppvisorError(
      'RESTORE_FAILED',
      `the dump failed${where}: ${(cause as Error).message}`,
      { cause },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
