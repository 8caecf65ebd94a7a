import { readFile } from 'node:fs/promises';
import { CliError } from './client.js';

/**
 * Reads a passphrase from a file (its first line), never from the command line, where `ps`
 * and the shell's history would show it. Undefined when no file is given.
 */
export async function passphraseFrom(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new CliError(
      'BAD_REQUEST',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  });
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) throw new CliError('BAD_REQUEST', `${file} holds no passphrase on its first line`);
  return line;
}
