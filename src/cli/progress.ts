/**
 * The progress of a long operation on a terminal: one line on stderr, rewritten in place, gone
 * when the operation ends. Nothing at all without a terminal or with `--json`, so that what a
 * script reads stays exactly the answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandContext } from './context.js';
import { duration } from './output.js';

/** A status line; see {@link progressLine}. */
export interface ProgressLine {
  /** Shows `text` (with the time since the start) in place of the line before. */
  show(text: string): void;
  /** Removes the line. */
  done(): void;
}

/** The status line of the command's run, or undefined when it shows none. */
export function progressLine(context: CommandContext): ProgressLine | undefined {
  const { stderr } = context.io;
  if (context.json || !stderr.isTTY) return undefined;
  const started = Date.now();
  let shown = false;
  return {
    show(text) {
      const elapsed = duration((Date.now() - started) / 1000);
      // \r and "erase line": the new text replaces the old, however long either is.
      stderr.write(`\r\x1b[2K[${elapsed}] ${text}`);
      shown = true;
    },
    done() {
      if (shown) stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}

/**
 * Runs `work` while `poll` is asked every `everyMs` for the text of the line (undefined: keep
 * the line as it is); a failing poll changes nothing. Without a line it only runs `work`.
 */
export async function withProgress<T>(
  line: ProgressLine | undefined,
  poll: () => Promise<string | undefined>,
  work: () => Promise<T>,
  everyMs = 500,
): Promise<T> {
  if (!line) return work();
  const stop = new AbortController();
  const stopped = () => stop.signal.aborted;
  const loop = (async () => {
    while (!stopped()) {
      const text = await poll().catch(() => undefined);
      if (stopped()) break;
      if (text !== undefined) line.show(text);
      await sleep(everyMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  })();
  try {
    return await work();
  } finally {
    stop.abort();
    await loop;
    line.done();
  }
}
