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
import { repeatable, withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, printAnswer, printJson, printList, table, tableOr, type Io } from '../output.js';
import { withStoreProgress } from './store-progress.js';
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
  printAnswer(context, listing, () => {
    warnProblems(context.io, listing);
    return tableOr(
      'no apps in the configured app stores',
      ['ID', 'LATEST', 'LABEL', 'INSTALLED', 'STORE', 'TITLE'],
      listing.apps.map((app) => [
        app.id,
        versionText(app.latest),
        app.latest.label,
        app.installed
          ? `${versionText(app.installed)}${app.updateAvailable ? ' (update available)' : ''}`
          : '-',
        app.store,
        app.title,
      ]),
    );
  });
}

/** `appvisor store show <app>` */
export async function storeShow(context: CommandContext, id: string): Promise<void> {
  const app = await context.client.call<StoreAppView>(
    'GET',
    `/store/apps/${encodeURIComponent(id)}`,
  );
  printAnswer(context, app, () =>
    [
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
    ].join('\n'),
  );
}

function resultText(result: StoreResult): string {
  if (!result.changed) return `${result.app} is at ${versionText(result.to)} already`;
  if (result.from)
    return `${result.app} updated from ${versionText(result.from)} to ${versionText(result.to)}: ${result.status.state}`;
  return `${result.app} ${versionText(result.to)} installed: ${result.status.state}`;
}

/** `appvisor store install <app> [--version V] [--store S] [--autostart] [--force]` */
export async function storeInstall(
  context: CommandContext,
  id: string,
  options: StoreInstallBody,
): Promise<void> {
  const result = await withStoreProgress(context, `install of ${id}`, id, () =>
    context.client.call<StoreResult>(
      'POST',
      `/store/apps/${encodeURIComponent(id)}/install`,
      options,
    ),
  );
  printAnswer(context, result, () => resultText(result));
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
    const result = await withStoreProgress(context, `update of ${id}`, id, () =>
      context.client.call<StoreResult>('POST', `/store/apps/${encodeURIComponent(id)}/update`, {
        ...(options.version === undefined ? {} : { version: options.version }),
        ...(options.force ? { force: true } : {}),
        ...(options.store === undefined ? {} : { store: options.store }),
        ...(options.switchStore ? { switchStore: true } : {}),
      }),
    );
    printAnswer(context, result, () => resultText(result));
    return;
  }
  const answer = await withStoreProgress(context, 'update of every app', undefined, () =>
    context.client.call<StoreUpdateAllAnswer>('POST', '/store/update', {
      ...(options.force ? { force: true } : {}),
    }),
  );
  if (context.json) printJson(context.io, answer);
  else if (answer.results.length === 0) context.io.stdout.write('every app is up to date\n');
  else {
    for (const item of answer.results) {
      if (item.result) context.io.stdout.write(`${resultText(item.result)}\n`);
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
  printAnswer(context, check, () => {
    warnProblems(context.io, check);
    if (check.updates.length === 0) return 'every app is up to date';
    return check.updates
      .map(
        (update) =>
          `${update.app}: ${versionText(update.installed)} → ${versionText(update.available)} ${update.available.label} (app store ${update.store})`,
      )
      .join('\n');
  });
}

/** `appvisor store sources` */
export async function storeSources(context: CommandContext): Promise<void> {
  const { sources } = await context.client.call<StoreSourceList>('GET', '/store/sources');
  printList(
    context,
    sources,
    'no app stores configured (appvisor store add <name> <url> --key K)',
    ['NAME', 'URL', 'KEYS', 'UNSIGNED'],
    (s) => [s.name, s.url, String(s.keys.length), s.allowUnsigned ? 'allowed' : 'refused'],
  );
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
  printAnswer(context, source, () => `app store ${source.name}: ${source.url}`);
}

/** `appvisor store remove <name>` */
export async function storeRemove(context: CommandContext, name: string): Promise<void> {
  await context.client.call('DELETE', `/store/sources/${encodeURIComponent(name)}`);
  printAnswer(context, { ok: true }, () => `app store ${name} removed`);
}

/** The help of `--version` of `store install` and `store update`. */
const newestBuild = 'a version or build number (default: the newest build)';

/** Registers `appvisor store`. */
export function registerStore(cli: Cli): void {
  const store = cli.program
    .command('store')
    .description('app stores: install and update apps from them; build and sign one');
  store
    .command('list')
    .description('apps of every configured app store, with what is installed')
    .action(withContext(cli, storeList));
  store
    .command('show')
    .description('one app: its versions, builds, labels and signatures')
    .argument('<app>')
    .action(withContext(cli, storeShow));
  store
    .command('install')
    .description('download, verify and install an app (an installed one is updated)')
    .argument('<app>')
    .option('--version <version>', newestBuild)
    .option('--store <name>', 'only from this app store')
    .option('--autostart', 'start it now and at every boot')
    .option('--force', 'install an older or the same build')
    .option('--switch-store', 'replace an installed app from another store, key, or a file')
    .action(withContext(cli, storeInstall));
  store
    .command('update')
    .description('back up, update, and roll back if the new version does not get ready')
    .argument('[app]')
    .option('--all', 'every app with a newer build')
    .option('--version <version>', newestBuild)
    .option('--force', 'allow a downgrade, or the same build again')
    .option('--store <name>', 'from this app store (another than its own needs --switch-store)')
    .option('--switch-store', 'update from another store or key than it was installed from')
    .action(withContext(cli, storeUpdate));
  store
    .command('check')
    .description('ask the app stores for updates now')
    .action(withContext(cli, storeCheck));
  store
    .command('sources')
    .description('the configured app stores')
    .action(withContext(cli, storeSources));
  store
    .command('add')
    .description('add (or change) an app store: the URL of its apps.json and its public key')
    .argument('<name>')
    .argument('<url>')
    .addOption(repeatable('--key <public-key>', 'a trusted public key (repeatable)'))
    .option('--allow-unsigned', 'install unsigned or wrongly signed packages from it')
    .action(withContext(cli, storeAdd));
  store
    .command('remove')
    .description('forget an app store (installed apps stay)')
    .argument('<name>')
    .action(withContext(cli, storeRemove));
  registerStorePublish(store, cli);
}
