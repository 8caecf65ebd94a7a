/**
 * Splits a plain-format pg_dump script into what a restore executes: SQL statements, COPY
 * statements with their data, and psql meta-commands to skip. Incremental: text arrives in
 * chunks of any size (a chunk may end inside a string, a comment or a COPY row), so a dump of
 * any size passes with memory bounded by its largest statement. Assumes
 * `standard_conforming_strings = on`, which pg_dump always sets.
 */

/** One piece of the script, in order. */
export type DumpPiece =
  | { kind: 'statement'; sql: string }
  /** `COPY ... FROM stdin;`: the data pieces that follow belong to it, until `copy-end`. */
  | { kind: 'copy'; sql: string }
  | { kind: 'copy-data'; data: string }
  | { kind: 'copy-end' }
  /** A backslash command (`\restrict`, `\connect`, ...): not SQL; the restore skips it. */
  | { kind: 'meta'; line: string };

type Mode =
  | { in: 'sql' }
  | { in: 'quote'; close: "'" | '"'; escapes: boolean }
  | { in: 'dollar'; tag: string }
  | { in: 'line-comment' }
  | { in: 'block-comment'; depth: number }
  | { in: 'copy' };

const copyFromStdin = /^\s*COPY\s[\s\S]*\sFROM\s+stdin\s*;$/i;

/** Feeds text in; `pieces` returns what is complete so far. */
export class DumpParser {
  #mode: Mode = { in: 'sql' };
  /** Text of the statement being read (or, in copy mode, of the data not yet passed on). */
  #pending = '';
  /** Nothing but whitespace read of the current statement: a meta-command may start here. */
  #blank = true;
  /** Where scanning of `#pending` resumes. */
  #scanned = 0;
  #out: DumpPiece[] = [];

  /** Adds text; returns the pieces it completed. */
  push(text: string): DumpPiece[] {
    this.#pending += text;
    this.#scan();
    return this.#out.splice(0);
  }

  /**
   * Ends the input: returns what remains. A script that ends inside a statement, string or
   * COPY block is truncated: that throws.
   */
  end(): DumpPiece[] {
    this.#scan();
    const rest = this.#pending.trim();
    if (this.#mode.in === 'copy') throw new Error('the dump ends inside COPY data');
    if (
      this.#mode.in === 'quote' ||
      this.#mode.in === 'dollar' ||
      this.#mode.in === 'block-comment'
    ) {
      throw new Error('the dump ends inside a string or comment');
    }
    if (rest && this.#mode.in === 'sql') {
      if (stripComments(rest).trim()) throw new Error('the dump ends inside a statement');
    }
    this.#pending = '';
    this.#scanned = 0;
    return this.#out.splice(0);
  }

  #scan(): void {
    for (;;) {
      if (this.#mode.in === 'copy') {
        if (!this.#scanCopy()) return;
        continue;
      }
      if (!this.#scanSql()) return;
    }
  }

  /** Passes whole data lines on; returns true when the `\.` line ended the block. */
  #scanCopy(): boolean {
    if (this.#skipNewline) {
      const newline = this.#pending.indexOf('\n');
      if (newline === -1) return false;
      this.#pending = this.#pending.slice(newline + 1);
      this.#skipNewline = false;
    }
    const text = this.#pending;
    let lineStart = 0;
    for (;;) {
      const newline = text.indexOf('\n', lineStart);
      if (newline === -1) break;
      const line = text.slice(lineStart, newline);
      if (line === '\\.' || line === '\\.\r') {
        if (lineStart > 0) this.#out.push({ kind: 'copy-data', data: text.slice(0, lineStart) });
        this.#out.push({ kind: 'copy-end' });
        this.#pending = text.slice(newline + 1);
        this.#scanned = 0;
        this.#mode = { in: 'sql' };
        return true;
      }
      lineStart = newline + 1;
    }
    if (lineStart > 0) {
      this.#out.push({ kind: 'copy-data', data: text.slice(0, lineStart) });
      this.#pending = text.slice(lineStart);
    }
    return false;
  }

  /** Scans SQL; returns true when a statement or meta-command was completed. */
  #scanSql(): boolean {
    const text = this.#pending;
    // At the start of a statement, a line beginning with a backslash is a psql meta-command.
    if (this.#mode.in === 'sql' && this.#blank) {
      const lead = /^\s*/.exec(text)![0].length;
      if (text[lead] === '\\') {
        const newline = text.indexOf('\n', lead);
        if (newline === -1) return false;
        this.#out.push({ kind: 'meta', line: text.slice(lead, newline).trimEnd() });
        this.#pending = text.slice(newline + 1);
        this.#scanned = 0;
        return true;
      }
    }
    let i = this.#scanned;
    while (i < text.length) {
      const mode = this.#mode;
      const c = text[i]!;
      switch (mode.in) {
        case 'sql':
          if (this.#blank && !/\s/.test(c)) this.#blank = false;
          if (c === ';') {
            const sql = text.slice(0, i + 1).trim();
            this.#pending = text.slice(i + 1);
            this.#scanned = 0;
            this.#blank = true;
            this.#emit(sql);
            return true;
          }
          if (c === "'") {
            const escapes = i > 0 && /[eE]/.test(text[i - 1]!) && !/\w/.test(text[i - 2] ?? ' ');
            this.#mode = { in: 'quote', close: "'", escapes };
          } else if (c === '"') {
            this.#mode = { in: 'quote', close: '"', escapes: false };
          } else if (c === '-' && text[i + 1] === '-') {
            this.#mode = { in: 'line-comment' };
            i++;
          } else if (c === '-' && i + 1 === text.length) {
            this.#scanned = i;
            return false; // might be the start of a comment: wait for more
          } else if (c === '/' && text[i + 1] === '*') {
            this.#mode = { in: 'block-comment', depth: 1 };
            i++;
          } else if (c === '/' && i + 1 === text.length) {
            this.#scanned = i;
            return false;
          } else if (c === '$') {
            const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 70));
            const before = text[i - 1] ?? ' ';
            if (tag && !/[A-Za-z0-9_$]/.test(before)) {
              this.#mode = { in: 'dollar', tag: tag[0] };
              i += tag[0].length - 1;
            } else if (!tag && text.length - i < 70 && /^\$[A-Za-z0-9_]*$/.test(text.slice(i))) {
              this.#scanned = i;
              return false; // a tag may be cut by the chunk's end
            }
          }
          break;
        case 'quote':
          if (mode.escapes && c === '\\') {
            if (i + 1 === text.length) {
              this.#scanned = i;
              return false;
            }
            i++;
          } else if (c === mode.close) {
            if (i + 1 === text.length) {
              this.#scanned = i;
              return false; // a doubled quote may follow in the next chunk
            }
            if (text[i + 1] === mode.close) i++;
            else this.#mode = { in: 'sql' };
          }
          break;
        case 'dollar': {
          const end = text.indexOf(mode.tag, i);
          if (end === -1) {
            this.#scanned = Math.max(i, text.length - mode.tag.length);
            return false;
          }
          i = end + mode.tag.length - 1;
          this.#mode = { in: 'sql' };
          break;
        }
        case 'line-comment': {
          const newline = text.indexOf('\n', i);
          if (newline === -1) {
            this.#scanned = text.length;
            return false;
          }
          i = newline;
          this.#mode = { in: 'sql' };
          // A statement that is only comments so far: drop them, so a meta-command after
          // them is still seen at the start of a statement.
          if (stripComments(text.slice(0, i)).trim() === '') {
            this.#pending = text.slice(i + 1);
            this.#scanned = 0;
            this.#blank = true;
            return true;
          }
          break;
        }
        case 'block-comment':
          if (c === '*' && text[i + 1] === '/') {
            i++;
            this.#mode =
              mode.depth === 1 ? { in: 'sql' } : { in: 'block-comment', depth: mode.depth - 1 };
          } else if (c === '/' && text[i + 1] === '*') {
            i++;
            mode.depth++;
          } else if ((c === '*' || c === '/') && i + 1 === text.length) {
            this.#scanned = i;
            return false;
          }
          break;
        case 'copy':
          return true; // #scan hands copy mode to #scanCopy
      }
      i++;
    }
    this.#scanned = i;
    return false;
  }

  /** The newline after `COPY ... FROM stdin;` had not arrived yet when the statement ended. */
  #skipNewline = false;

  #emit(sql: string): void {
    const bare = stripComments(sql).trim();
    if (copyFromStdin.test(bare)) {
      this.#out.push({ kind: 'copy', sql: bare });
      this.#mode = { in: 'copy' };
      // The data starts on the line after the statement.
      const newline = this.#pending.indexOf('\n');
      if (newline !== -1 && this.#pending.slice(0, newline).trim() === '') {
        this.#pending = this.#pending.slice(newline + 1);
      } else {
        this.#skipNewline = true;
      }
      return;
    }
    if (bare) this.#out.push({ kind: 'statement', sql });
  }
}

/** Removes `--` comments at line starts, enough to recognise a COPY statement. */
function stripComments(sql: string): string {
  return sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
}
