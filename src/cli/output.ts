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
