import { CommanderError, type Command } from 'commander';
import { repeatable, type Cli } from '../context.js';

/** The options of `appvisor daemon`, as commander gives them. */
interface DaemonOptions {
  httpPort?: string;
  httpsPort?: string;
  adminPort?: string;
  config?: string;
  set: string[];
}

/** The daemon's options as configuration flags (`--set` pairs, then the port options). */
function daemonFlags(options: DaemonOptions, data: string | undefined): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const pair of options.set) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new CommanderError(2, 'appvisor.usage', `--set expects key=value, got "${pair}"`);
    flags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (data) flags.data = data;
  if (options.httpPort !== undefined) flags['http.port'] = options.httpPort;
  if (options.httpsPort !== undefined) flags['https.port'] = options.httpsPort;
  if (options.adminPort !== undefined) flags['admin.port'] = options.adminPort;
  return flags;
}

/** The global options that apply to the daemon too (the others are for the clients). */
const daemonGlobals = ['--data'];

/**
 * The help of the global options in `daemonGlobals`, in the columns of `command`'s own: commander
 * lists only a command's own options in its help, and the daemon's data folder is a global one.
 */
function globalOptionsHelp(program: Command, command: Command): string {
  const options = program.options.filter((option) => daemonGlobals.includes(option.long ?? ''));
  const width = Math.max(...[...command.options, ...options].map((o) => o.flags.length), 10);
  const rows = options.map((option) => `  ${option.flags.padEnd(width)}  ${option.description}`);
  return `\nGlobal options:\n${rows.join('\n')}`;
}

/** Registers `appvisor daemon`: the manager itself, in the foreground. */
export function registerDaemon(cli: Cli): void {
  const daemon: Command = cli.program
    .command('daemon')
    .description('run the manager in the foreground')
    .option('--http-port <n>', 'plain HTTP port (0: any free port)')
    .option('--https-port <n>', 'HTTPS port (0: any free port)')
    .option('--admin-port <n>', 'port of the admin UI and API (0: any free port)')
    .option('--config <file>', 'JSON configuration file (or APPVISOR_CONFIG)')
    .addOption(repeatable('--set <key=value>', 'set any configuration key; repeatable'))
    .addHelpText('after', (): string => globalOptionsHelp(cli.program, daemon))
    .action(async (options: DaemonOptions) => {
      // Loaded here: the manager's code is most of the program, and no other command needs
      // it (every command paid its loading, about half a second, before).
      const { runDaemon } = await import('../../main.js');
      cli.setExitCode(
        await runDaemon({
          flags: daemonFlags(options, cli.dataOption()),
          ...(options.config ? { configFile: options.config } : {}),
          env: cli.env,
          cwd: process.cwd(),
          stdout: cli.io.stdout,
          stderr: cli.io.stderr,
        }),
      );
    });
}
