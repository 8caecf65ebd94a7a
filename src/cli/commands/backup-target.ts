import type { Command } from 'commander';
import type { BackupTarget, BackupTargetBody, TargetTest } from '../../api/index.js';
import { CliError } from '../client.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { onOff, printAnswer, printList } from '../output.js';
import { passphraseFrom } from '../passphrase.js';

/** The options of `appvisor backup target add`, as typed. */
export interface TargetAddOptions {
  endpoint?: string;
  region?: string;
  pathStyle?: string;
  accessKey?: string;
  secretKey?: string;
  secretKeyFile?: string;
  user?: string;
  password?: string;
  passwordFile?: string;
}

/** A secret given as a flag or, better (no `ps` shows it), as the first line of a file. */
async function secretOf(
  value: string | undefined,
  file: string | undefined,
  flag: string,
): Promise<string | undefined> {
  if (value !== undefined && file !== undefined) {
    throw new CliError('BAD_REQUEST', `give --${flag} or --${flag}-file, not both`);
  }
  return value ?? (await passphraseFrom(file));
}

/** `appvisor backup target add <name> <url> [...]` */
export async function targetAdd(
  context: CommandContext,
  name: string,
  url: string,
  options: TargetAddOptions,
): Promise<void> {
  const secretKey = await secretOf(options.secretKey, options.secretKeyFile, 'secret-key');
  const password = await secretOf(options.password, options.passwordFile, 'password');
  const pathStyle = onOff(options.pathStyle, '--path-style');
  const body: BackupTargetBody = {
    name,
    url,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(pathStyle === undefined ? {} : { pathStyle }),
    ...(options.accessKey === undefined ? {} : { accessKey: options.accessKey }),
    ...(secretKey === undefined ? {} : { secretKey }),
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(password === undefined ? {} : { password }),
  };
  const target = await context.client.call<BackupTarget>('POST', '/backup-targets', body);
  printAnswer(context, target, () => `added ${target.name}: ${target.url}`);
}

/** `appvisor backup target list` */
export async function targetList(context: CommandContext): Promise<void> {
  const { targets } = await context.client.call<{ targets: BackupTarget[] }>(
    'GET',
    '/backup-targets',
  );
  printList(
    context,
    targets,
    'no backup targets',
    ['NAME', 'KIND', 'URL', 'ENDPOINT', 'CREDENTIALS'],
    (t) => [
      t.name,
      t.kind,
      t.url,
      t.endpoint ?? (t.kind === 's3' ? `(AWS ${t.region ?? ''})` : ''),
      t.credentials ? 'set' : 'none',
    ],
  );
}

/** `appvisor backup target remove <name>` */
export async function targetRemove(context: CommandContext, name: string): Promise<void> {
  const answer = await context.client.call<{ ok: boolean }>(
    'DELETE',
    `/backup-targets/${encodeURIComponent(name)}`,
  );
  printAnswer(context, answer, () => `removed ${name} (its archives stay on it)`);
}

/** `appvisor backup target test <name>` */
export async function targetTest(context: CommandContext, name: string): Promise<void> {
  const answer = await context.client.call<TargetTest>(
    'POST',
    `/backup-targets/${encodeURIComponent(name)}/test`,
  );
  printAnswer(
    context,
    answer,
    () => `${name} works: a probe written, read and removed in ${answer.ms} ms`,
  );
}

/** Registers `appvisor backup target` under `backup`. */
export function registerBackupTarget(cli: Cli, backup: Command): void {
  const target = backup
    .command('target')
    .description('remote places for archives: S3-compatible buckets and WebDAV folders');
  target
    .command('add')
    .description('add a target (its credentials are stored encrypted, never shown)')
    .argument('<name>')
    // An argument, not --url: that is the global option naming a remote manager.
    .argument('<url>', 's3://bucket/prefix or https://host/dav/folder')
    .option('--endpoint <url>', 'S3: the server of MinIO, Ceph ... (default: AWS)')
    .option('--region <region>', 'S3: the region (default us-east-1)')
    .option('--path-style <on|off>', 'S3: host/bucket/key addressing (default: on with --endpoint)')
    .option('--access-key <id>', 'S3: the access key id')
    .option('--secret-key <key>', 'S3: the secret key (better: --secret-key-file)')
    .option('--secret-key-file <file>', 'S3: the secret key, on the first line of a file')
    .option('--user <user>', 'WebDAV: the user')
    .option('--password <password>', 'WebDAV: the password (better: --password-file)')
    .option('--password-file <file>', 'WebDAV: the password, on the first line of a file')
    .action(withContext(cli, targetAdd));
  target
    .command('list')
    .description('the targets (never their credentials)')
    .action(withContext(cli, targetList));
  target
    .command('remove')
    .description('forget a target; its archives stay on it')
    .argument('<name>')
    .action(withContext(cli, targetRemove));
  target
    .command('test')
    .description('write, read back and remove a small probe object')
    .argument('<name>')
    .action(withContext(cli, targetTest));
}
