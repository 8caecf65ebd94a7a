import { Option } from 'commander';
import type {
  StoreAppView,
  StoreInstallBody,
  StoreListing,
  StoreResult,
  StoreSource,
  StoreSourceList,
  StoreUpdateAllAnswer,
  UpdateCheck,
} from '../../api/index.js';
import { CliError } from '../client.js';
import { collect, type Cli, type CommandContext } from '../context.js';
import { bytes, printJson, table, type Io } from '../output.js';
import { registerStorePublish } from './store-publish.js';

function warnProblems(io: Io, listing: { errors: StoreListing['errors'] }): void {
  for (const problem of listing.errors) {
    io.stderr.write(`warning: app store ${problem.store}: ${problem.code}: ${problem.message}\n`);
  }
}

const versionText = (v: { version: string | null; build: number | null }) =>
  `${v.version ?? '(none)'}${v.build === null ? '' : ` (${v.build})`}`;

/** `appvisor store list` */
export async function storeList(context: CommandContext): Promise<void> {
  const listing = await context.client.call<StoreListing>('GET', '/store/apps');
  if (context.json) {
    printJson(context.io, listing);
    return;
  }
  warnProblems(context.io, listing);
  if (listing.apps.length === 0) {
    context.io.stdout.write('no apps in the configured app stores\n');
    return;
  }
  const rows = [
    ['ID', 'LATEST', 'LABEL', 'INSTALLED', 'STORE', 'TITLE'],
    ...listing.apps.map((app) => [
      app.id,
      versionText(app.latest),
      app.latest.label,
      app.installed
        ? `${versionText(app.installed)}${app.updateAvailable ? ' (update available)' : ''}`
        : '-',
      app.store,
      app.title,
    ]),
  ];
  context.io.stdout.write(`${table(rows)}\n`);
}

/** `appvisor store show <app>` */
export async function storeShow(context: CommandContext, id: string): Promise<void> {
  const app = await context.client.call<StoreAppView>(
    'GET',
    `/store/apps/${encodeURIComponent(id)}`,
  );
  if (context.json) {
    printJson(context.io, app);
    return;
  }
  const lines = [
    `${app.id}${app.title ? ` — ${app.title}` : ''} (app store ${app.store})`,
    ...(app.description ? [app.description] : []),
    `installed: ${app.installed ? versionText(app.installed) : 'no'}${app.updateAvailable ? ', update available' : ''}`,
    '',
    table([
      ['VERSION', 'BUILD', 'LABEL', 'SIZE', 'SIGNED'],
      ...app.versions.map((v) => [
        v.version,
        String(v.build),
        v.label,
        bytes(v.size),
        v.signed ? 'yes' : 'no',
      ]),
    ]),
  ];
  context.io.stdout.write(`${lines.join('\n')}\n`);
}

function printResult(context: CommandContext, result: StoreResult): void {
  if (!result.changed) {
    context.io.stdout.write(`${result.app} is at ${versionText(result.to)} already\n`);
  } else if (result.from) {
    context.io.stdout.write(
      `${result.app} updated from ${versionText(result.from)} to ${versionText(result.to)}: ${result.status.state}\n`,
    );
  } else {
    context.io.stdout.write(
      `${result.app} ${versionText(result.to)} installed: ${result.status.state}\n`,
    );
  }
}

/** `appvisor store install <app> [--version V] [--store S] [--autostart] [--force]` */
export async function storeInstall(
  context: CommandContext,
  id: string,
  options: StoreInstallBody,
): Promise<void> {
  const result = await context.client.call<StoreResult>(
    'POST',
    `/store/apps/${encodeURIComponent(id)}/install`,
    options,
  );
  if (context.json) printJson(context.io, result);
  else printResult(context, result);
}

/** The options of `appvisor store update`. */
export type StoreUpdateOptions = Omit<StoreInstallBody, 'autostart'> & { all?: boolean };

/** `appvisor store update [<app> | --all] [--version V] [--force] [--store S --switch-store]` */
export async function storeUpdate(
  context: CommandContext,
  id: string | undefined,
  options: StoreUpdateOptions,
): Promise<void> {
  if ((id === undefined) === !options.all) {
    throw new CliError('BAD_REQUEST', 'name an app or give --all');
  }
  if (id !== undefined) {
    const result = await context.client.call<StoreResult>(
      'POST',
      `/store/apps/${encodeURIComponent(id)}/update`,
      {
        ...(options.version === undefined ? {} : { version: options.version }),
        ...(options.force ? { force: true } : {}),
        ...(options.store === undefined ? {} : { store: options.store }),
        ...(options.switchStore ? { switchStore: true } : {}),
      },
    );
    if (context.json) printJson(context.io, result);
    else printResult(context, result);
    return;
  }
  const answer = await context.client.call<StoreUpdateAllAnswer>('POST', '/store/update', {
    ...(options.force ? { force: true } : {}),
  });
  if (context.json) printJson(context.io, answer);
  else if (answer.results.length === 0) context.io.stdout.write('every app is up to date\n');
  else {
    for (const item of answer.results) {
      if (item.result) printResult(context, item.result);
      else if (item.error) {
        context.io.stdout.write(`${item.app} failed: ${item.error.code}: ${item.error.message}\n`);
      }
    }
  }
  const failed = answer.results.find((item) => !item.ok);
  if (failed?.error)
    throw new CliError(failed.error.code, `${failed.app}: ${failed.error.message}`);
}

/** `appvisor store check` */
export async function storeCheck(context: CommandContext): Promise<void> {
  const check = await context.client.call<UpdateCheck>('POST', '/store/check');
  if (context.json) {
    printJson(context.io, check);
    return;
  }
  warnProblems(context.io, check);
  if (check.updates.length === 0) context.io.stdout.write('every app is up to date\n');
  for (const update of check.updates) {
    context.io.stdout.write(
      `${update.app}: ${versionText(update.installed)} → ${versionText(update.available)} ${update.available.label} (app store ${update.store})\n`,
    );
  }
}

/** `appvisor store sources` */
export async function storeSources(context: CommandContext): Promise<void> {
  const { sources } = await context.client.call<StoreSourceList>('GET', '/store/sources');
  if (context.json) {
    printJson(context.io, sources);
    return;
  }
  if (sources.length === 0) {
    context.io.stdout.write('no app stores configured (appvisor store add <name> <url> --key K)\n');
    return;
  }
  const rows = [
    ['NAME', 'URL', 'KEYS', 'UNSIGNED'],
    ...sources.map((s) => [
      s.name,
      s.url,
      String(s.keys.length),
      s.allowUnsigned ? 'allowed' : 'refused',
    ]),
  ];
  context.io.stdout.write(`${table(rows)}\n`);
}

/** `appvisor store add <name> <url> [--key K ...] [--allow-unsigned]` */
export async function storeAdd(
  context: CommandContext,
  name: string,
  url: string,
  options: { key: string[]; allowUnsigned?: boolean },
): Promise<void> {
  const source = await context.client.call<StoreSource>(
    'PUT',
    `/store/sources/${encodeURIComponent(name)}`,
    { url, keys: options.key, allowUnsigned: options.allowUnsigned ?? false },
  );
  if (context.json) printJson(context.io, source);
  else context.io.stdout.write(`app store ${source.name}: ${source.url}\n`);
}

/** `appvisor store remove <name>` */
export async function storeRemove(context: CommandContext, name: string): Promise<void> {
  await context.client.call('DELETE', `/store/sources/${encodeURIComponent(name)}`);
  if (context.json) printJson(context.io, { ok: true });
  else context.io.stdout.write(`app store ${name} removed\n`);
}

/** Registers `appvisor store`. */
export function registerStore(cli: Cli): void {
  const store = cli.program
    .command('store')
    .description('app stores: install and update apps from them; build and sign one');
  store
    .command('list')
    .description('apps of every configured app store, with what is installed')
    .action(async () => {
      await storeList(cli.context());
    });
  store
    .command('show')
    .description('one app: its versions, builds, labels and signatures')
    .argument('<app>')
    .action(async (id: string) => {
      await storeShow(cli.context(), id);
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
      await storeInstall(cli.context(), id, options);
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
      await storeUpdate(cli.context(), id, options);
    });
  store
    .command('check')
    .description('ask the app stores for updates now')
    .action(async () => {
      await storeCheck(cli.context());
    });
  store
    .command('sources')
    .description('the configured app stores')
    .action(async () => {
      await storeSources(cli.context());
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
        await storeAdd(cli.context(), name, url, options);
      },
    );
  store
    .command('remove')
    .description('forget an app store (installed apps stay)')
    .argument('<name>')
    .action(async (name: string) => {
      await storeRemove(cli.context(), name);
    });
  registerStorePublish(store, cli);
}
