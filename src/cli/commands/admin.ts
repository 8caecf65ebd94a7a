import { createInterface } from 'node:readline';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { printAnswer, type Io } from '../output.js';

/**
 * Reads answers line by line from one reader (a second reader on a pipe would lose what the
 * first one buffered); prompts go to a terminal only. A missing line reads as ''.
 */
function lineReader(io: Io): { ask(prompt: string): Promise<string>; close(): void } {
  io.stdin.setRawMode?.(false);
  const rl = createInterface({ input: io.stdin, terminal: false });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let ended = false;
  rl.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else lines.push(line);
  });
  rl.once('close', () => {
    ended = true;
    for (const next of waiting.splice(0)) next('');
  });
  return {
    ask(prompt) {
      if (io.stdin.isTTY) io.stderr.write(prompt);
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.resolve('');
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() {
      rl.close();
    },
  };
}

/** Reads a new password: from a terminal asked twice, else the next line of stdin. */
async function readPassword(io: Io, reader: ReturnType<typeof lineReader>): Promise<string> {
  const first = await reader.ask('new admin password: ');
  if (io.stdin.isTTY) {
    const second = await reader.ask('again: ');
    if (first !== second) throw new Error('the two passwords differ');
  }
  return first;
}

/** `appvisor admin password [--set]` */
export async function adminPassword(
  context: CommandContext,
  options: { set?: boolean },
): Promise<void> {
  const body: { current?: string; password?: string } = {};
  if (options.set || !context.client.local) {
    const reader = lineReader(context.io);
    try {
      // Over a URL the manager wants the current password too (the first line when piped).
      if (!context.client.local) body.current = await reader.ask('current admin password: ');
      if (options.set) body.password = await readPassword(context.io, reader);
    } finally {
      reader.close();
    }
  }
  const answer = await context.client.call<{ password?: string }>('PUT', '/admin/password', body);
  printAnswer(context, answer, () =>
    answer.password
      ? `new admin password: ${answer.password}\n(shown only now; every login was ended)`
      : 'admin password changed; every login was ended',
  );
}

/** Registers `appvisor admin`. */
export function registerAdmin(cli: Cli): void {
  const admin = cli.program.command('admin').description('the admin account');
  admin
    .command('password')
    .description('print a new one-time admin password, or read one with --set')
    .option('--set', 'read the new password from the terminal or stdin')
    .action(withContext(cli, adminPassword));
}
