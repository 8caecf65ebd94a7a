/**
 * The `appvisor` command. Administration commands are thin clients of the REST API over
 * `<data>/manager.sock` (or `--url`/`--token`); `daemon` runs the manager itself.
 * This file is an entry point: it alone reads the environment for the CLI.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { runDaemon } from '../main.js';
import { version } from '../lib/version.js';
import { ApiClient, CliError, type Target } from './client.js';
import {
  appAction,
  appConfigure,
  type AppConfigureOptions,
  appInstall,
  appList,
  appStatus,
  appUninstall,
  logs,
} from './app-commands.js';
import { alarmList, diagnostics, diskRelease } from './alarm-commands.js';
import {
  backupCreate,
  backupList,
  backupRestore,
  backupSchedule,
  type BackupScheduleOptions,
} from './backup-commands.js';
import { certReset, certSet, certShow } from './cert-commands.js';
import { adminPassword, status, type CommandContext } from './commands.js';
import {
  instanceCreate,
  instanceDelete,
  instanceLogin,
  instanceList,
  instanceSet,
  instanceShow,
  instanceTrace,
} from './instance-commands.js';
import type { Io } from './output.js';
import type { PlatformSettingsChange, StoreInstallBody } from '../api/index.js';
import { monitorShow } from './monitor-commands.js';
import { settingsSet, settingsShow } from './settings-commands.js';
import {
  storeAdd,
  storeBuild,
  storeCheck,
  storeInstall,
  storeKeygen,
  storeList,
  storeRemove,
  storeShow,
  storeSign,
  storeSources,
  storeUpdate,
  type StoreUpdateOptions,
} from './store-commands.js';

interface GlobalOptions {
  data?: string;
  json?: boolean;
  url?: string;
  token?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs the CLI with `argv` (without node and the script) and resolves with the exit code. */
export async function run(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let exitCode = 0;
  // Not commander's version option: it would take `store install --version V` for itself.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.stdout.write(`${version}\n`);
    return 0;
  }
  const program = new Command('appvisor')
    .description('appvisor: a self-hosted app platform')
    .addHelpText('after', '\nappvisor --version prints the version.')
    .option('--data <dir>', 'data folder (default ./data, or APPVISOR_DATA)')
    .option('--json', 'machine-readable output: one JSON document on stdout')
    .option('--url <url>', 'URL of a remote manager (or APPVISOR_URL)')
    .option('--token <token>', 'bearer token for --url (or APPVISOR_TOKEN)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)');

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const target = (): Target => {
    const options = globals();
    const url = options.url ?? env.APPVISOR_URL;
    if (url) {
      const token = options.token ?? env.APPVISOR_TOKEN;
      return token ? { url, token } : { url };
    }
    const data = resolve(options.data ?? env.APPVISOR_DATA ?? './data');
    return { socket: resolve(data, 'manager.sock') };
  };
  const context = (): CommandContext => ({
    client: new ApiClient(target()),
    io,
    json: Boolean(globals().json),
  });

  program
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
        if (globals().data) flags.data = globals().data;
        if (options.httpPort !== undefined) flags['http.port'] = options.httpPort;
        if (options.httpsPort !== undefined) flags['https.port'] = options.httpsPort;
        if (options.adminPort !== undefined) flags['admin.port'] = options.adminPort;
        exitCode = await runDaemon({
          flags,
          ...(options.config ? { configFile: options.config } : {}),
          env,
          cwd: process.cwd(),
          stdout: io.stdout,
          stderr: io.stderr,
        });
      },
    );

  program
    .command('status')
    .description('manager, database, apps and alarms at a glance')
    .action(async () => {
      await status(context());
    });

  program
    .command('alarms')
    .description('active alarms, or with --history their raises and clears')
    .option('--history', 'raises and clears, newest first')
    .option('--limit <n>', 'with --history: how many (default 100)')
    .action(async (options: { history?: boolean; limit?: string }) => {
      await alarmList(context(), options);
    });

  program
    .command('diagnostics <file>')
    .description('logs + status + settings + alarm history in one tar.gz, secrets removed')
    .action(async (file: string) => {
      await diagnostics(context(), file);
    });

  const disk = program.command('disk').description('the disk of the data folder');
  disk
    .command('release')
    .description('empty the disk reserve file (when the disk is full)')
    .action(async () => {
      await diskRelease(context());
    });

  program
    .command('monitor')
    .description('CPU, memory, load and disk now, and the CPU and memory of each app')
    .action(async () => {
      await monitorShow(context());
    });

  const app = program.command('app').description('install, run and supervise apps');
  app
    .command('install')
    .description('install or re-install an app from a .zip, .tar.gz or folder')
    .argument('<package>', 'package file or folder')
    .option('--id <id>', 'the app id (default: the top folder of the package)')
    .option(
      '--autostart',
      'start it now and at every manager start (a re-install keeps the setting unless given)',
    )
    .option('--no-autostart', 'do not start it with the manager')
    .option('--purge', "empty the app's data folder first")
    .action(
      async (path: string, options: { id?: string; autostart?: boolean; purge?: boolean }) => {
        await appInstall(context(), path, options);
      },
    );
  app
    .command('uninstall')
    .description('stop the app and remove it with its data')
    .argument('<id>')
    .option('--force', 'also when it has instances')
    .action(async (id: string, options: { force?: boolean }) => {
      await appUninstall(context(), id, options);
    });
  for (const action of ['start', 'stop', 'restart'] as const) {
    app
      .command(action)
      .description(`${action} an app`)
      .argument('<id>')
      .action(async (id: string) => {
        await appAction(context(), action, id);
      });
  }
  app
    .command('status')
    .description("an app's state, pid, restarts and last exit")
    .argument('<id>')
    .action(async (id: string) => {
      await appStatus(context(), id);
    });
  app
    .command('configure')
    .description('change autostart, log size and resource limits; never starts or stops the app')
    .argument('<id>')
    .option('--autostart <on|off>', 'start at every manager start')
    .option('--log-size <bytes>', 'size of one log file')
    .option('--log-files <n>', 'log files kept')
    .option('--memory <size>', 'memory cap of all its processes (bytes, or 512M, 2G; "default")')
    .option('--cpu-weight <n>', 'CPU weight 1-10000, 100 = equal share ("default")')
    .option('--pids <n>', 'processes and threads at once ("default")')
    .action(async (id: string, options: AppConfigureOptions) => {
      await appConfigure(context(), id, options);
    });
  app
    .command('list')
    .description('every installed app')
    .action(async () => {
      await appList(context());
    });

  const instance = program
    .command('instance')
    .description('instances of apps: a database, web path and password each');
  instance
    .command('create')
    .description('create an instance of an app that hosts instances')
    .argument('<app>')
    .argument('<id>')
    .option('--domain <domain>', 'its domain (default: this machine name)')
    .option('--path <path>', 'its web path (default /<domain>/<id>)')
    .option('--password <password>', 'its password (default: generated)')
    .action(
      async (
        appId: string,
        id: string,
        options: { domain?: string; path?: string; password?: string },
      ) => {
        await instanceCreate(context(), appId, id, options);
      },
    );
  instance
    .command('list')
    .description('every instance')
    .option('--app <app>', 'only those of one app')
    .action(async (options: { app?: string }) => {
      await instanceList(context(), options);
    });
  instance
    .command('show')
    .description('one instance, without its password unless asked')
    .argument('<id>')
    .option('--reveal-password', 'also print the instance password')
    .action(async (id: string, options: { revealPassword?: boolean }) => {
      await instanceShow(context(), id, options);
    });
  instance
    .command('set')
    .description("change an instance's settings")
    .argument('<id>')
    .option('--domain <domain>')
    .option('--path <path>')
    .option('--password <password>')
    .option('--enabled <on|off>')
    .option('--exclude-from-backup <on|off>')
    .action(
      async (
        id: string,
        options: {
          domain?: string;
          path?: string;
          password?: string;
          enabled?: string;
          excludeFromBackup?: string;
        },
      ) => {
        await instanceSet(context(), id, options);
      },
    );
  instance
    .command('trace')
    .description('turn trace flags on (+flag) or off (-flag); without flags, show them')
    .argument('<id>')
    .argument('[changes...]')
    // -flag must reach the command as an argument: -http-client is not -h.
    .allowUnknownOption()
    .helpOption(false)
    .action(async (id: string, changes: string[]) => {
      await instanceTrace(context(), id, changes);
    });
  instance
    .command('login')
    .description("an admin login for the instance's app: the AppLogin to send after AppChallenge")
    .argument('<id>')
    .requiredOption('--challenge <challenge>', 'the challenge of the AppChallengeResult')
    .action(async (id: string, options: { challenge: string }) => {
      await instanceLogin(context(), id, options);
    });
  instance
    .command('delete')
    .description('delete an instance with its database and files')
    .argument('<id>')
    .option('--yes', 'really')
    .action(async (id: string, options: { yes?: boolean }) => {
      await instanceDelete(context(), id, options);
    });

  const backup = program.command('backup').description('back instances up and restore them');
  backup
    .command('create')
    .description('back an instance up: its database and folder, in one archive')
    .argument('<instance>')
    .option('--template <template>', "archive name, e.g. #A/#I-#bn.tar (default: the schedule's)")
    .option('--passphrase-file <file>', 'encrypt with the passphrase on its first line')
    .option('--verify', 'then restore it into a scratch database and compare row counts')
    .action(
      async (
        instance: string,
        options: { template?: string; passphraseFile?: string; verify?: boolean },
      ) => {
        await backupCreate(context(), instance, options);
      },
    );
  backup
    .command('list')
    .description('archives in the backup folder, newest first')
    .option('--instance <instance>', 'only those of this instance')
    .action(async (options: { instance?: string }) => {
      await backupList(context(), options);
    });
  backup
    .command('restore')
    .description('replace an instance from an archive, or make a new one from it')
    .argument('<archive>')
    .option('--into <instance>', 'replace this instance (same app)')
    .option('--as <new-id>', 'create a new instance from the archive')
    .option('--passphrase-file <file>', 'the passphrase of an encrypted archive')
    .action(
      async (archive: string, options: { into?: string; as?: string; passphraseFile?: string }) => {
        await backupRestore(context(), archive, options);
      },
    );
  backup
    .command('schedule')
    .description('show or change when all instances are backed up')
    .option('--cron <expr>', 'a cron expression (UTC), e.g. "0 3 * * *"')
    .option('--template <template>', 'archive name template')
    .option('--slots <n>', 'rolling slots for #bn')
    .option('--keep <n>', 'without #bn: archives kept per instance (0: all)')
    .option('--verify <on|off>', 'restore each backup into a scratch database and check it')
    .option('--off', 'no scheduled backups')
    .action(async (options: BackupScheduleOptions) => {
      await backupSchedule(context(), options);
    });

  const cert = program.command('cert').description("the front's TLS certificate");
  cert
    .command('show')
    .description('subject, issuer, validity and fingerprint')
    .action(async () => {
      await certShow(context());
    });
  cert
    .command('set')
    .description('use a PEM bundle (leaf first) and its key; served to new connections at once')
    .argument('<bundle.pem>')
    .argument('<key.pem>')
    .action(async (bundle: string, key: string) => {
      await certSet(context(), bundle, key);
    });
  cert
    .command('reset')
    .description('go back to a new self-signed certificate')
    .action(async () => {
      await certReset(context());
    });

  program
    .command('logs')
    .description("an app's log")
    .argument('<app>')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'lines to print first', '100')
    .action(async (id: string, options: { follow?: boolean; lines?: string }) => {
      await logs(context(), id, options);
    });

  const settings = program
    .command('settings')
    .description('platform settings: the label, the DNS name, where alarms are sent');
  settings
    .command('show')
    .description('the platform label, DNS name, alarm URL and alarm e-mail recipients')
    .action(async () => {
      await settingsShow(context());
    });
  settings
    .command('set')
    .description('change platform settings ("" clears one)')
    .option('--label <label>', 'a name for this platform, up to 64 printable characters')
    .option('--dns-name <name>', 'the host name the platform is reached by')
    .option(
      '--alarm-url <url>',
      'http(s) URL alarm notifications are POSTed to ("": the configured alarms.url)',
    )
    .option(
      '--alarm-email <addresses>',
      'recipients of alarm e-mails, comma-separated ("": the configured alarms.smtp.to)',
    )
    .action(async (options: PlatformSettingsChange) => {
      await settingsSet(context(), options);
    });

  const store = program
    .command('store')
    .description('app stores: install and update apps from them; build and sign one');
  store
    .command('list')
    .description('apps of every configured app store, with what is installed')
    .action(async () => {
      await storeList(context());
    });
  store
    .command('show')
    .description('one app: its versions, builds, labels and signatures')
    .argument('<app>')
    .action(async (id: string) => {
      await storeShow(context(), id);
    });
  store
    .command('install')
    .description('download, verify and install an app (an installed one is updated)')
    .argument('<app>')
    .option('--version <version>', 'a version or build number (default: the newest build)')
    .option('--store <name>', 'only from this app store')
    .option('--autostart', 'start it now and at every boot')
    .option('--force', 'install an older or the same build')
    .option('--switch-store', 'replace an installed app from another store, key, or a file')
    .action(async (id: string, options: StoreInstallBody) => {
      await storeInstall(context(), id, options);
    });
  store
    .command('update')
    .description('back up, update, and roll back if the new version does not get ready')
    .argument('[app]')
    .option('--all', 'every app with a newer build')
    .option('--version <version>', 'a version or build number (default: the newest build)')
    .option('--force', 'allow a downgrade, or the same build again')
    .option('--store <name>', 'from this app store (another than its own needs --switch-store)')
    .option('--switch-store', 'update from another store or key than it was installed from')
    .action(async (id: string | undefined, options: StoreUpdateOptions) => {
      await storeUpdate(context(), id, options);
    });
  store
    .command('check')
    .description('ask the app stores for updates now')
    .action(async () => {
      await storeCheck(context());
    });
  store
    .command('sources')
    .description('the configured app stores')
    .action(async () => {
      await storeSources(context());
    });
  store
    .command('add')
    .description('add (or change) an app store: the URL of its apps.json and its public key')
    .argument('<name>')
    .argument('<url>')
    .addOption(
      new Option('--key <public-key>', 'a trusted public key (repeatable)')
        .argParser(collect)
        .default([]),
    )
    .option('--allow-unsigned', 'install unsigned or wrongly signed packages from it')
    .action(
      async (name: string, url: string, options: { key: string[]; allowUnsigned?: boolean }) => {
        await storeAdd(context(), name, url, options);
      },
    );
  store
    .command('remove')
    .description('forget an app store (installed apps stay)')
    .argument('<name>')
    .action(async (name: string) => {
      await storeRemove(context(), name);
    });
  store
    .command('build')
    .description('write apps.json (signed with --key) for a folder of packages; no manager needed')
    .argument('<folder>')
    .option('--key <file>', 'the private key (PEM) to sign with')
    .option('--name <name>', "the store's name in apps.json")
    .option('--valid-days <days>', 'how long managers accept the index (default 30)')
    .action(
      async (folder: string, options: { key?: string; name?: string; validDays?: string }) => {
        await storeBuild(io, Boolean(globals().json), folder, options);
      },
    );
  store
    .command('sign')
    .description(
      'write <file>.sig, an Ed25519 signature of the file (an apps.json gets new published and expires times first); no manager needed',
    )
    .argument('<file>')
    .requiredOption('--key <file>', 'the private key (PEM)')
    .option('--valid-days <days>', 'how long managers accept an index (default 30)')
    .action(async (file: string, options: { key: string; validDays?: string }) => {
      await storeSign(io, Boolean(globals().json), file, options);
    });
  store
    .command('keygen')
    .description('make a signing key: the private key to <file> (0600), the public key printed')
    .argument('<file>')
    .action(async (file: string) => {
      await storeKeygen(io, Boolean(globals().json), file);
    });

  const admin = program.command('admin').description('the admin account');
  admin
    .command('password')
    .description('print a new one-time admin password, or read one with --set')
    .option('--set', 'read the new password from the terminal or stdin')
    .action(async (options: { set?: boolean }) => {
      await adminPassword(context(), options);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
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
    if (error instanceof CliError) {
      io.stderr.write(`error ${error.code}: ${error.message}\n`);
      return 1;
    }
    io.stderr.write(`error INTERNAL: ${(error as Error).message}\n`);
    return 1;
  }
}
