import { CliError } from './client.js';

export { bytes, duration } from '../lib/format.js';

/** Where a command writes. */
export interface Io {
  stdout: { write(text: string | Uint8Array): unknown };
  /** `isTTY`: a terminal, where long operations show their progress (never with `--json`). */
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
}

/** Reads an `on|off` option; undefined when it was not given. */
export function onOff(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new CliError('BAD_REQUEST', `${flag} takes on or off, not "${value}"`);
}

/** Prints a value as the one JSON document of `--json`. */
export function printJson(io: Pick<Io, 'stdout'>, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** What printing an answer needs of a command's context. */
export interface Output {
  io: Pick<Io, 'stdout'>;
  json: boolean;
}

/**
 * Prints a command's answer: `value` as the one JSON document of `--json`, else the text
 * `render` makes, as a line (`render` runs only then: it may also warn on stderr).
 */
export function printAnswer(output: Output, value: unknown, render: () => string): void {
  if (output.json) printJson(output.io, value);
  else output.io.stdout.write(`${render()}\n`);
}

/** A table of `rows` under the `header` row, or the sentence `empty` when there are none. */
export function tableOr(empty: string, header: string[], rows: string[][]): string {
  return rows.length === 0 ? empty : table([header, ...rows]);
}

/**
 * Prints a list: the items as the JSON document of `--json`, else a table with a `row` per
 * item under the `header` row, or the sentence `empty` when there are none.
 */
export function printList<T>(
  output: Output,
  items: T[],
  empty: string,
  header: string[],
  row: (item: T) => string[],
): void {
  printAnswer(output, items, () => tableOr(empty, header, items.map(row)));
}

/** Prints rows as aligned columns (the first row is not special). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
