import { readFile, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { RotatingFile, rotatedFiles } from '../../lib/rotating-file.js';
import { escapeControls } from '../../lib/text-escape.js';

/** Size limits of one app's log. */
export interface LogLimits {
  maxBytes: number;
  files: number;
}

/** Default per-app log size: 5 files of 5 MB (specs/app-container.md, "Process"). */
export const defaultLogLimits: LogLimits = { maxBytes: 5 * 1024 * 1024, files: 5 };

/** Longest line kept whole; longer output is cut into lines of this length. */
const maxLineBytes = 16 * 1024;

/**
 * One app's log, `logs/<id>.log`: the process's stdout and stderr, line by line with a
 * timestamp (`<ISO time> [out] text`, `[err]` for stderr, `[appvisor]` for the manager's own
 * notes), rotated by size. Followers receive each line as it is written.
 *
 * Every line of the file is one the manager began: control characters in what it writes
 * (newlines, carriage returns, ESC and ANSI sequences, other C0/C1 controls, Unicode line
 * separators and bidi overrides) become visible escapes (`\n`, `\x1b`, `\u202e`), so an app can
 * neither start a line of its own (one that looks like an `[appvisor]` note) nor rewrite a
 * line on a terminal that shows the file. Tabs stay. An app's colors show as `\x1b[31m`.
 */
export class AppLog {
  readonly path: string;
  #limits: LogLimits;
  #file: RotatingFile;
  readonly #followers = new Set<(line: string) => void>();
  readonly #now: () => Date;

  constructor(path: string, limits: LogLimits, now: () => Date = () => new Date()) {
    this.path = path;
    this.#limits = limits;
    this.#now = now;
    this.#file = this.#open();
  }

  #open(): RotatingFile {
    return new RotatingFile({
      path: this.path,
      maxBytes: this.#limits.maxBytes,
      files: this.#limits.files,
      mode: 0o640,
    });
  }

  /** Logs a stream line by line until it ends. */
  attach(stream: Readable | null, tag: 'out' | 'err'): void {
    if (!stream) return;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        this.#line(tag, pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      while (pending.length > maxLineBytes) {
        this.#line(tag, pending.slice(0, maxLineBytes));
        pending = pending.slice(maxLineBytes);
      }
    });
    stream.on('end', () => {
      if (pending) this.#line(tag, pending);
      pending = '';
    });
  }

  /** A line under a tag of the caller's (an instance id, for a service's trace lines). */
  write(tag: string, text: string): void {
    this.#line(tag, text);
  }

  /** A line of the manager's own about this app (started, exited, ...). */
  note(text: string): void {
    this.#line('appvisor', text);
  }

  #line(tag: string, text: string): void {
    const safe = escapeControls(text.replace(/\r$/, ''), maxLineBytes);
    const line = `${this.#now().toISOString()} [${escapeControls(tag, 64)}] ${safe}\n`;
    this.#file.write(line);
    for (const follower of this.#followers) follower(line);
  }

  /** Applies new size limits from the next write on. */
  async reconfigure(limits: LogLimits): Promise<void> {
    const old = this.#file;
    this.#limits = limits;
    this.#file = this.#open();
    await old.close();
  }

  /** The last `count` lines, oldest first, across the rotated files. */
  async tail(count: number): Promise<string[]> {
    await this.#file.flush();
    const files = (await rotatedFiles(this.path, this.#limits.files)).reverse();
    const lines: string[] = [];
    for (const file of files) {
      const text = await readFile(file, 'utf8').catch(() => '');
      const fileLines = text.split('\n');
      if (fileLines.at(-1) === '') fileLines.pop();
      lines.unshift(...fileLines.map((line) => `${line}\n`));
      if (lines.length >= count) break;
    }
    return lines.slice(Math.max(0, lines.length - count));
  }

  /** Calls `listener` with every line written from now on; returns the unsubscribe function. */
  follow(listener: (line: string) => void): () => void {
    this.#followers.add(listener);
    return () => this.#followers.delete(listener);
  }

  async flush(): Promise<void> {
    await this.#file.flush();
  }

  /** Closes the log and deletes its files. */
  async remove(): Promise<void> {
    await this.close();
    for (const file of await rotatedFiles(this.path, this.#limits.files))
      await rm(file, { force: true });
  }

  async close(): Promise<void> {
    this.#followers.clear();
    await this.#file.close();
  }
}
