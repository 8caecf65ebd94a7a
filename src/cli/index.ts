/**
 * The `appvisor` command. Administration commands are thin clients of the REST API over
 * `<data>/manager.sock` (or `--url`/`--token`); `daemon` runs the manager itself.
 * This file is an entry point: it alone reads the environment for the CLI, and it only
 * assembles the program; each command group registers itself from `commands/`.
 */
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { version } from '../lib/version.js';
import { ApiClient, CliError, type Target } from './client.js';
import { registerAdmin } from './commands/admin.js';
import { registerAlarms } from './commands/alarms.js';
import { registerApp, registerLogs } from './commands/app.js';
import { registerBackup } from './commands/backup.js';
import { registerCert } from './commands/cert.js';
import { registerConfig } from './commands/config.js';
import { registerDaemon } from './commands/daemon.js';
import { registerEvents } from './commands/events.js';
import { registerInstance } from './commands/instance.js';
import { registerMonitor } from './commands/monitor.js';
import { registerNode } from './commands/node.js';
import { registerSettings } from './commands/settings.js';
import { registerStatus } from './commands/status.js';
import { registerStore } from './commands/store.js';
import type { Cli } from './context.js';
import { printJson, type Io } from './output.js';

interface GlobalOptions {
  data?: string;
  json?: boolean;
  url?: string;
  token?: string;
  ca?: string;
}

/** The program with its global options, writing its help and usage errors to `io`. */
function makeProgram(io: Io): Command {
  return new Command('appvisor')
    .description('appvisor: a self-hosted app platform')
    .addHelpText('after', '\nappvisor --version prints the version.')
    .option('--data <dir>', 'data folder (default ./data, or APPVISOR_DATA)')
    .option('--json', 'machine-readable output: one JSON document on stdout')
    .option('--url <url>', 'URL of a remote manager (or APPVISOR_URL)')
    .option('--token <token>', 'bearer token for --url (or APPVISOR_TOKEN)')
    .option(
      '--ca <file>',
      "PEM certificate to trust for an https --url (or APPVISOR_CA), such as a self-signed manager's (appvisor cert show --pem)",
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)');
}

/** Where the manager is: `--url` (with `--token` and `--ca`), else the socket in the data folder. */
function targetOf(options: GlobalOptions, env: Record<string, string | undefined>): Target {
  const url = options.url ?? env.APPVISOR_URL;
  if (url) {
    const token = options.token ?? env.APPVISOR_TOKEN;
    const ca = options.ca ?? env.APPVISOR_CA;
    return { url, ...(token ? { token } : {}), ...(ca ? { ca: resolve(ca) } : {}) };
  }
  const data = resolve(options.data ?? env.APPVISOR_DATA ?? './data');
  return { socket: resolve(data, 'manager.sock') };
}

/**
 * The exit code of a failed run, its error printed: 2 for usage, 1 for the rest. An error with
 * a code is the line `error CODE: message` on stderr and, with `json`, also the document
 * `{"error": {code, message}}` on stdout, so that a script reading stdout sees the failure
 * (`json` is false when the command printed its answer before it failed: one document only).
 */
function failure(error: unknown, io: Io, json: boolean): number {
  if (error instanceof CommanderError) {
    if (
      error.exitCode === 0 ||
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version'
    )
      return 0;
    if (error.code === 'appvisor.usage') io.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  const { code, message } =
    error instanceof CliError ? error : { code: 'INTERNAL', message: (error as Error).message };
  io.stderr.write(`error ${code}: ${message}\n`);
  if (json) printJson(io, { error: { code, message } });
  return 1;
}

/** Runs the CLI with `argv` (without node and the script) and resolves with the exit code. */
export async function run(
  argv: string[],
  given: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let exitCode = 0;
  // Not commander's version option: it would take `store install --version V` for itself.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    given.stdout.write(`${version}\n`);
    return 0;
  }
  let answered = false;
  const io: Io = {
    ...given,
    stdout: {
      write: (text) => {
        answered = true;
        return given.stdout.write(text);
      },
    },
  };
  const program = makeProgram(io);
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const cli: Cli = {
    program,
    io,
    env,
    context: () => ({
      client: new ApiClient(targetOf(globals(), env)),
      io,
      json: Boolean(globals().json),
    }),
    json: () => Boolean(globals().json),
    dataOption: () => globals().data,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  // The order here is the order of `appvisor --help`.
  registerDaemon(cli);
  registerStatus(cli);
  registerAlarms(cli);
  registerEvents(cli);
  registerMonitor(cli);
  registerNode(cli);
  registerApp(cli);
  registerInstance(cli);
  registerBackup(cli);
  registerCert(cli);
  registerLogs(cli);
  registerSettings(cli);
  registerConfig(cli);
  registerStore(cli);
  registerAdmin(cli);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return failure(error, io, Boolean(globals().json) && !answered);
  }
}
