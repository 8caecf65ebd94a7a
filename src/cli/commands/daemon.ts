import { CommanderError, Option } from 'commander';
import { runDaemon } from '../../main.js';
import { collect, type Cli } from '../context.js';
/** Registers `appvisor daemon`: the manager itself, in the foreground. */
export function registerDaemon(cli: Cli): void {
  cli.program
    .command('daemon')
    .description('run the manager in the foreground')
    .option('--http-port <n>', 'plain HTTP port (0: any free port)')
    .option('--https-port <n>', 'HTTPS port (0: any free port)')
    .option('--admin-port <n>', 'port of the admin UI and API (0: any free port)')
    .option('--config <file>', 'JSON configuration file (or APPVISOR_CONFIG)')
    .addOption(
      new Option('--set <key=value>', 'set any configuration key; repeatable')
        .argParser(collect)
        .default([]),
    )
    .action(
      async (options: {
        httpPort?: string;
        httpsPort?: string;
        adminPort?: string;
        config?: string;
        set: string[];
      }) => {
        const flags: Record<string, string | undefined> = {};
        for (const pair of options.set) {
          const at = pair.indexOf('=');
          if (at <= 0)
            throw new CommanderError(2, 'appvisor.usage', `--set expects key=value, got "${pair}"`);
          flags[pair.slice(0, at)] = pair.slice(at + 1);
        }
        const data = cli.dataOption();
        if (data) flags.data = data;
        if (options.httpPort !== undefined) flags['http.port'] = options.httpPort;
        if (options.httpsPort !== undefined) flags['https.port'] = options.httpsPort;
        if (options.adminPort !== undefined) flags['admin.port'] = options.adminPort;
        cli.setExitCode(
          await runDaemon({
            flags,
            ...(options.config ? { configFile: options.config } : {}),
            env: cli.env,
            cwd: process.cwd(),
            stdout: cli.io.stdout,
            stderr: cli.io.stderr,
          }),
        );
      },
    );
}
