/**
 * The store-side commands: `appvisor store build`, `sign` and `keygen` run here, without a
 * manager, for whoever publishes an app store.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../client.js';
import type { Cli } from '../context.js';
import { printJson, type Io } from '../output.js';

/**
 * The app store's code, loaded when one of these commands runs: it brings the package and
 * manifest checks with it, which no other command needs (and every command paid for).
 */
const appstore = () => import('../../core/appstore/index.js');

/** The store-side commands run here, without a manager: their errors are the CLI's. */
async function local<T>(work: () => Promise<T>): Promise<T> {
  const { AppvisorError } = await import('../../core/errors/index.js');
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
  return (await appstore()).parsePrivateKey(pem);
}

/** `appvisor store keygen <file>`: a new private key (0600) and its public key on stdout. */
export async function storeKeygen(io: Io, json: boolean, file: string): Promise<void> {
  const key = (await appstore()).generateSigningKey();
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
  const { publicKeyOf, signStoreFile } = await appstore();
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
  const { buildStore, publicKeyOf } = await appstore();
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

/** Registers `build`, `sign` and `keygen` under `appvisor store`. */
export function registerStorePublish(store: Command, cli: Cli): void {
  store
    .command('build')
    .description('write apps.json (signed with --key) for a folder of packages; no manager needed')
    .argument('<folder>')
    .option('--key <file>', 'the private key (PEM) to sign with')
    .option('--name <name>', "the store's name in apps.json")
    .option('--valid-days <days>', 'how long managers accept the index (default 30)')
    .action(
      async (folder: string, options: { key?: string; name?: string; validDays?: string }) => {
        await storeBuild(cli.io, cli.json(), folder, options);
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
      await storeSign(cli.io, cli.json(), file, options);
    });
  store
    .command('keygen')
    .description('make a signing key: the private key to <file> (0600), the public key printed')
    .argument('<file>')
    .action(async (file: string) => {
      await storeKeygen(cli.io, cli.json(), file);
    });
}
