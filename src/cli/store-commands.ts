import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type {
  StoreAppView,
  StoreInstallBody,
  StoreListing,
  StoreResult,
  StoreSource,
  StoreSourceList,
  StoreUpdateAllAnswer,
  UpdateCheck,
} from '../api/index.js';
import {
  buildStore,
  generateSigningKey,
  parsePrivateKey,
  publicKeyOf,
  signStoreFile,
} from '../core/appstore/index.js';
import { AppvisorError } from '../core/errors/index.js';
import { CliError } from './client.js';
import type { CommandContext } from './commands.js';
import { bytes, printJson, table, type Io } from './output.js';

/** The store-side commands run here, without a manager: their errors are the CLI's. */
async function local<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppvisorError) throw new CliError(error.code, error.message);
    const code = (error as NodeJS.ErrnoException).code;
    if (code) throw new CliError('BAD_REQUEST', (error as Error).message);
    throw error;
  }
}

async function readKey(file: string) {
  const pem = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new CliError(
      'BAD_REQUEST',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  });
  return parsePrivateKey(pem);
}

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

/** `appvisor store keygen <file>`: a new private key (0600) and its public key on stdout. */
export async function storeKeygen(io: Io, json: boolean, file: string): Promise<void> {
  const key = generateSigningKey();
  await local(() => writeFile(resolve(file), key.privateKeyPem, { mode: 0o600, flag: 'wx' }));
  if (json) printJson(io, { file: resolve(file), publicKey: key.publicKey });
  else io.stdout.write(`${key.publicKey}\n`);
}

/** `appvisor store sign <file> --key KEY`: writes `<file>.sig`. */
export async function storeSign(
  io: Io,
  json: boolean,
  file: string,
  options: { key: string; validDays?: string },
): Promise<void> {
  const key = await readKey(options.key);
  const signature = await local(() => signStoreFile(file, key, days(options.validDays)));
  if (json) printJson(io, { file: `${file}.sig`, signature, publicKey: publicKeyOf(key) });
  else io.stdout.write(`${file}.sig (key ${publicKeyOf(key)})\n`);
}

/** `--valid-days N`: a positive number of days, or undefined for the default. */
function days(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0)) throw new CliError('BAD_REQUEST', '--valid-days is a positive number of days');
  return value;
}

/** `appvisor store build <folder> [--key KEY] [--name N]`: writes apps.json for the packages. */
export async function storeBuild(
  io: Io,
  json: boolean,
  folder: string,
  options: { key?: string; name?: string; validDays?: string },
): Promise<void> {
  const key = options.key === undefined ? undefined : await readKey(options.key);
  const validDays = days(options.validDays);
  const result = await local(() =>
    buildStore(resolve(folder), {
      ...(key ? { key } : {}),
      ...(validDays === undefined ? {} : { validDays }),
      ...(options.name ? { name: options.name } : {}),
    }),
  );
  if (json) {
    printJson(io, result);
    return;
  }
  const count = result.apps.reduce((n, app) => n + app.versions.length, 0);
  io.stdout.write(
    `${result.index}: ${result.apps.length} app(s), ${count} package(s)${result.signature ? `, signed with ${publicKeyOf(key!)}` : ', unsigned'}\n`,
  );
}
