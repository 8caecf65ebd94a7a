/**
 * Cuts a plain-format pg_dump script at the only places a restore must cut it, and nowhere
 * else: the data of `COPY ... FROM stdin` blocks (not SQL: it goes to the server as COPY data)
 * and psql meta-commands (`\restrict`, `\unrestrict`: not SQL either). Everything between them
 * stays SQL text for PostgreSQL to parse, as runs of whole TOC entries: pg_dump starts every
 * object with its entry header (`--` / `-- Name: ...` or `-- Data for Name: ...` / `--`), so an
 * entry boundary is a place where pg_dump ended its statements. No statement is ever split by
 * its `;`: SQL functions with `BEGIN ATOMIC ... END`, rules with several actions, literals and
 * comments holding `;` pass as they are.
 *
 * The layout is pg_dump's; the text inside the entries is the dumped database's, which an app
 * controls. What keeps a look-alike line inside a literal (a comment that holds `COPY ... FROM
 * stdin;` or an entry header) harmless: PostgreSQL parses a query string whole before it runs
 * any of it, so SQL text cut inside a literal fails with "unterminated ..." and nothing of it
 * runs; and a meta-command is only taken with the dump's random `\restrict` key. At worst such
 * a crafted database cannot be restored (which `verify` finds when the backup is made); never
 * does text of a literal run as a statement.
 *
 * Incremental: text arrives in chunks of any size; memory is bounded by the largest entry (a
 * statement must be whole for the server anyway) and a chunk of COPY data.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** One piece of the script, in order. */
export type ScriptPiece =
  /** A `SET`/`set_config` line of the preamble (before the first entry). */
  | { kind: 'setting'; sql: string; line: number }
  /** One TOC entry's SQL (its header comment included), from `line` of the script on. */
  | { kind: 'sql'; sql: string; line: number; title: string }
  /** `COPY table (...) FROM stdin;`: the data pieces that follow belong to it. */
  | { kind: 'copy'; sql: string; table: string; line: number; title: string }
  | { kind: 'copy-data'; data: string }
  /** The `\.` line; `rows` is how many data lines the block had. */
  | { kind: 'copy-end'; rows: number }
  /** `\restrict KEY` / `\unrestrict KEY`: psql's, not SQL; skipped. */
  | { kind: 'meta'; text: string; line: number };

/** pg_dump's entry header line (after a line `--`). */
const headerLine = /^-- (?:Data for )?Name: /;
/** The data of a table: one COPY block. */
const tableData = /^-- Data for Name: .*; Type: TABLE DATA; Schema: /;
/**
 * Large objects' data: pg_dump wraps it in its own `BEGIN;` ... `COMMIT;` (it assumes psql in
 * autocommit). `Owner: [^;]*$`: a table named like this header still ends with its own type.
 */
const blobsData = /^-- Data for Name: (?:BLOBS|[0-9.]+); Type: BLOBS; Schema: -; Owner: [^;]*$/;
/** A `SET name = value;` or `SELECT pg_catalog.set_config(...);` line of the preamble. */
const settingLine = /^(?:SET \w+ = .*|SELECT pg_catalog\.set_config\(.*\));$/;
const restrictLine = /^\\restrict ([A-Za-z0-9]+)$/;
const unrestrictLine = /^\\unrestrict ([A-Za-z0-9]+)$/;
/** pg_dump's last comment: a script without it was cut short. */
const completeLine = '-- PostgreSQL database dump complete';

interface Entry {
  lines: string[];
  line: number;
  title: string;
  data: boolean;
  blobs: boolean;
  /** Something other than the header comment and blank lines was read. */
  content: boolean;
}

/** Feeds text in; `push` and `end` return the pieces completed so far. */
export class DumpScript {
  #buffer = '';
  /** Number of the next line to be read (1-based). */
  #line = 1;
  #mode: 'preamble' | 'sql' | 'copy-statement' | 'copy' = 'preamble';
  #entry: Entry = {
    lines: [],
    line: 1,
    title: 'the preamble',
    data: false,
    blobs: false,
    content: false,
  };
  #previous = '';
  #key: string | undefined;
  /** The COPY statement being read (its lines), and whether a quoted name is open. */
  #copy: { lines: string[]; line: number; quoted: boolean } | undefined;
  #rows = 0;
  /** The closing comment was read and only blank lines, `--` and `\unrestrict` since. */
  #complete = false;
  #out: ScriptPiece[] = [];

  /** Adds text; returns the pieces it completed. */
  push(text: string): ScriptPiece[] {
    this.#buffer += text;
    let start = 0;
    for (;;) {
      if (this.#mode === 'copy') {
        const scanned = this.#scanCopy(start);
        start = scanned.position;
        if (!scanned.ended) break;
        continue;
      }
      const newline = this.#buffer.indexOf('\n', start);
      if (newline === -1) break;
      this.#readLine(this.#buffer.slice(start, newline));
      start = newline + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return this.#out.splice(0);
  }

  /** Ends the input: returns what remains; throws for a script that was cut short. */
  end(): ScriptPiece[] {
    if (this.#buffer !== '') {
      if (this.#mode === 'copy') this.push('\n');
      else {
        const last = this.#buffer;
        this.#buffer = '';
        this.#readLine(last);
      }
    }
    if (this.#mode === 'copy' || this.#mode === 'copy-statement') {
      throw new Error(`the dump ends inside the COPY block of ${this.#entry.title}`);
    }
    this.#finishEntry();
    if (!this.#complete) {
      throw new Error(`the dump was cut short after line ${this.#line - 1} (no "${completeLine}")`);
    }
    return this.#out.splice(0);
  }

  #readLine(line: string): void {
    const number = this.#line++;
    const previous = this.#previous;
    this.#previous = line;
    if (this.#mode === 'copy-statement') {
      this.#readCopyStatement(line);
      return;
    }
    if (previous === '--' && headerLine.test(line)) {
      // The `--` before the header belongs to the new entry.
      if (this.#entry.lines.at(-1) === '--') this.#entry.lines.pop();
      this.#finishEntry();
      this.#mode = 'sql';
      this.#complete = false;
      this.#entry = {
        lines: ['--', line],
        line: number - 1,
        title: line.slice(3),
        data: tableData.test(line),
        blobs: blobsData.test(line),
        content: false,
      };
      return;
    }
    if (line === completeLine && previous === '--') this.#complete = true;
    else if (line !== '' && line !== '--' && !unrestrictLine.test(line)) this.#complete = false;

    const restrict = restrictLine.exec(line);
    if (restrict && this.#mode === 'preamble' && this.#key === undefined) {
      this.#key = restrict[1];
      this.#entry.lines.push('');
      this.#out.push({ kind: 'meta', text: line, line: number });
      return;
    }
    if (this.#key !== undefined && unrestrictLine.exec(line)?.[1] === this.#key) {
      this.#finishEntry();
      this.#entry = { ...this.#entry, lines: [], line: number + 1, content: false };
      this.#out.push({ kind: 'meta', text: line, line: number });
      return;
    }
    if (this.#mode === 'preamble' && !this.#entry.content && settingLine.test(line)) {
      this.#out.push({ kind: 'setting', sql: line, line: number });
      this.#entry.lines.push('');
      return;
    }
    const blank = line === '' || line.startsWith('--');
    if (this.#entry.data && !this.#entry.content && line.startsWith('COPY ')) {
      this.#finishEntry();
      this.#copy = { lines: [], line: number, quoted: false };
      this.#mode = 'copy-statement';
      this.#readCopyStatement(line);
      return;
    }
    if (this.#entry.blobs && (line === 'BEGIN;' || line === 'COMMIT;')) {
      // Inside the restore's one transaction, BEGIN would only warn but COMMIT would end it:
      // both go (kept as empty lines, so line numbers in errors stay right).
      this.#entry.lines.push('');
      return;
    }
    this.#entry.lines.push(line);
    if (!blank) this.#entry.content = true;
  }

  /** Emits the current entry's SQL, unless it is only comments and blank lines. */
  #finishEntry(): void {
    const entry = this.#entry;
    if (entry.content) {
      this.#out.push({
        kind: 'sql',
        sql: entry.lines.join('\n'),
        line: entry.line,
        title: entry.title,
      });
    }
    entry.lines = [];
    entry.content = false;
    entry.line = this.#line;
  }

  /**
   * A COPY statement, which spans lines when a name holds a newline: it ends at the `;` that
   * is not inside a double-quoted name (it holds no other kind of literal).
   */
  #readCopyStatement(line: string): void {
    const copy = this.#copy!;
    copy.lines.push(line);
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '"') copy.quoted = !copy.quoted;
      else if (c === ';' && !copy.quoted) {
        const sql = copy.lines.join('\n');
        if (i !== line.length - 1 || !sql.endsWith(' FROM stdin;')) {
          throw new Error(
            `line ${this.#line - 1} is not the end of a COPY ... FROM stdin statement`,
          );
        }
        this.#out.push({
          kind: 'copy',
          sql,
          table: copyTarget(sql),
          line: copy.line,
          title: this.#entry.title,
        });
        this.#copy = undefined;
        this.#rows = 0;
        this.#mode = 'copy';
        return;
      }
    }
  }

  /**
   * Passes whole data lines on from `start`; returns where the SQL after the `\.` line starts
   * (`ended`), or where the incomplete last line starts. A data line is never `\.` (COPY
   * escapes backslashes).
   */
  #scanCopy(start: number): { position: number; ended: boolean } {
    const text = this.#buffer;
    let lineStart = start;
    for (;;) {
      const newline = text.indexOf('\n', lineStart);
      if (newline === -1) break;
      const length = newline - lineStart;
      if (
        (length === 2 || length === 3) &&
        text.startsWith('\\.', lineStart) &&
        (length === 2 || text[lineStart + 2] === '\r')
      ) {
        if (lineStart > start)
          this.#out.push({ kind: 'copy-data', data: text.slice(start, lineStart) });
        this.#out.push({ kind: 'copy-end', rows: this.#rows });
        this.#line++;
        this.#previous = '\\.';
        this.#mode = 'sql';
        this.#entry.line = this.#line;
        return { position: newline + 1, ended: true };
      }
      this.#rows++;
      this.#line++;
      lineStart = newline + 1;
    }
    if (lineStart > start) {
      this.#out.push({ kind: 'copy-data', data: text.slice(start, lineStart) });
    }
    return { position: lineStart, ended: false };
  }
}

/** The table of a `COPY name (...) FROM stdin;` as written: up to the first unquoted space. */
function copyTarget(sql: string): string {
  let quoted = false;
  for (let i = 5; i < sql.length; i++) {
    const c = sql[i];
    if (c === '"') quoted = !quoted;
    else if (c === ' ' && !quoted) return sql.slice(5, i);
  }
  return sql.slice(5);
}

/**
 * A pass-through for a dump being written that counts the rows of each COPY block (the rows
 * of each table in pg_dump's snapshot), for a later check of a restore. It errors when the
 * script is cut short, so a dump that did not end as pg_dump ends it is never kept.
 */
export class RowCounter extends Transform {
  /** Rows per COPY target as the dump names it (`public.items`), once the stream ended. */
  readonly tables: Record<string, number> = {};
  readonly #script = new DumpScript();
  readonly #decoder = new StringDecoder('utf8');
  #table = '';

  #count(pieces: ScriptPiece[]): void {
    for (const piece of pieces) {
      if (piece.kind === 'copy') this.#table = piece.table;
      else if (piece.kind === 'copy-end') {
        this.tables[this.#table] = (this.tables[this.#table] ?? 0) + piece.rows;
      }
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#count(this.#script.push(this.#decoder.write(chunk)));
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#count(this.#script.push(this.#decoder.end()));
      this.#count(this.#script.end());
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }
}
