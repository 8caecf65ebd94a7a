/**
 * The CLI run in the test's own process, its stderr taken for a terminal or not: what a person
 * at a terminal sees (progress lines) and what a script sees.
 */
import { run } from '../../src/cli/index.js';

/** What a run wrote, and its exit code. */
export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with `args` in this process; `terminal`: stderr says it is a TTY. `env` is the
 * CLI's whole environment (none of the test's own by default).
 */
export async function runInProcess(
  args: string[],
  options: { terminal?: boolean; env?: Record<string, string | undefined> } = {},
): Promise<InProcessRun> {
  let stdout = '';
  let stderr = '';
  const code = await run(
    args,
    {
      stdout: { write: (text: string | Uint8Array) => (stdout += String(text)) },
      stderr: { write: (text: string) => (stderr += text), isTTY: options.terminal ?? false },
      stdin: process.stdin,
    },
    options.env ?? {},
  );
  return { code, stdout, stderr };
}

/** Runs the CLI in this process on a terminal. */
export function onTerminal(args: string[]): Promise<InProcessRun> {
  return runInProcess(args, { terminal: true });
}

/** The progress lines a run wrote, the "erase line" sequence written `<erase>` to read. */
export function readable(stderr: string): string {
  return stderr.replaceAll('\x1b[2K', '<erase>');
}
