import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BackupEntry, BackupList, BackupSchedule, InstanceView } from '../../api/index.js';
import { CliError } from '../client.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { onOff, printAnswer, printList, table } from '../output.js';
import { passphraseFrom } from '../passphrase.js';
import { withBackupProgress } from './backup-progress.js';
import { registerBackupTransfer } from './backup-transfer.js';
import { registerBackupTarget } from './backup-target.js';

function kib(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${(bytes / 1024).toFixed(1)} KiB`
    : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** `appvisor backup create <instance> [--template T] [--passphrase-file F] [--verify]` */
export async function backupCreate(
  context: CommandContext,
  instance: string,
  options: { template?: string; passphraseFile?: string; verify?: boolean; target?: string },
): Promise<void> {
  const passphrase = await passphraseFrom(options.passphraseFile);
  const entry = await withBackupProgress(context, 'backup', instance, () =>
    context.client.call<BackupEntry>('POST', '/backups', {
      instance,
      ...(options.target === undefined ? {} : { target: options.target }),
      ...(options.template === undefined ? {} : { template: options.template }),
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(options.verify ? { verify: true } : {}),
    }),
  );
  printAnswer(context, entry, () => {
    const { verified } = entry;
    const check = verified
      ? `, verified: ${verified.tables} tables, ${verified.rows} rows restored in ${verified.seconds} s`
      : '';
    const where = entry.target === undefined ? '' : `${entry.target}:`;
    return `${where}${entry.file} (${kib(entry.size)}${check})`;
  });
}

/** `appvisor backup list [--instance I]` */
export async function backupList(
  context: CommandContext,
  options: { instance?: string; target?: string },
): Promise<void> {
  const params = new URLSearchParams();
  if (options.instance) params.set('instance', options.instance);
  if (options.target) params.set('target', options.target);
  const query = params.size > 0 ? `?${params.toString()}` : '';
  const { backups, unanswered = [] } = await context.client.call<BackupList>(
    'GET',
    `/backups${query}`,
  );
  // On a cluster each archive of a backup folder names the node whose folder holds it.
  const nodes = backups.some((b) => b.node !== undefined);
  printList(
    context,
    backups,
    'no backups',
    ['FILE', 'INSTANCE', 'APP', 'SIZE', 'MADE', ...(nodes ? ['NODE'] : [])],
    (b) => [
      b.file,
      b.instance ?? (b.encrypted ? '(encrypted)' : '?'),
      b.app ?? '',
      kib(b.size),
      b.createdAt ?? b.modifiedAt,
      ...(nodes ? [b.node ?? ''] : []),
    ],
  );
  for (const node of unanswered) {
    context.io.stderr.write(
      `warning: node ${node} did not answer: the archives in its backup folder are missing\n`,
    );
  }
}

/** `appvisor backup restore <archive> (--into <instance> | --as <new-id>) [--passphrase-file F]` */
export async function backupRestore(
  context: CommandContext,
  archive: string,
  options: { into?: string; as?: string; passphraseFile?: string; target?: string; node?: string },
): Promise<void> {
  if ((options.into === undefined) === (options.as === undefined)) {
    throw new CliError('BAD_REQUEST', 'give one of --into <instance> or --as <new-id>');
  }
  const passphrase = await passphraseFrom(options.passphraseFile);
  // A file named on this machine is sent as an absolute path; other names are taken as relative
  // to the manager's backup folder; with --target, as the archive's key on that target.
  // With --node, the name is the one that node's folder (or disk) knows.
  const here = options.target === undefined && options.node === undefined;
  const path = here && existsSync(archive) ? resolve(archive) : archive;
  const view = await withBackupProgress(context, 'restore', options.into ?? options.as!, () =>
    context.client.call<InstanceView>('POST', '/backups/restore', {
      archive: path,
      ...(options.into === undefined ? {} : { into: options.into }),
      ...(options.as === undefined ? {} : { as: options.as }),
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(options.target === undefined ? {} : { target: options.target }),
      ...(options.node === undefined ? {} : { node: options.node }),
    }),
  );
  printAnswer(context, view, () => `restored into ${view.id} (${view.path})`);
}

/** The options of `appvisor backup schedule`, as typed. */
export interface BackupScheduleOptions {
  cron?: string;
  template?: string;
  slots?: string;
  keep?: string;
  verify?: string;
  off?: boolean;
  target?: string;
}

/** `appvisor backup schedule [--cron EXPR] [--template T] [--slots N] [--keep N] [--verify on|off] [--off]` */
export async function backupSchedule(
  context: CommandContext,
  options: BackupScheduleOptions,
): Promise<void> {
  const change: Record<string, unknown> = {};
  if (options.off) change.cron = null;
  else if (options.cron !== undefined) change.cron = options.cron;
  if (options.template !== undefined) change.template = options.template;
  const verify = onOff(options.verify, '--verify');
  if (verify !== undefined) change.verify = verify;
  if (options.target !== undefined)
    change.target = options.target === 'none' ? null : options.target;
  for (const key of ['slots', 'keep'] as const) {
    const text = options[key];
    if (text === undefined) continue;
    const value = Number(text);
    if (!Number.isInteger(value)) {
      throw new CliError('BAD_REQUEST', `--${key} takes a whole number, not "${text}"`);
    }
    change[key] = value;
  }
  const schedule =
    Object.keys(change).length === 0
      ? await context.client.call<BackupSchedule>('GET', '/backups/schedule')
      : await context.client.call<BackupSchedule>('PUT', '/backups/schedule', change);
  printAnswer(context, schedule, () =>
    table([
      ['cron', schedule.cron ?? 'off'],
      ['template', schedule.template],
      ['slots', String(schedule.slots)],
      ['keep', schedule.keep === 0 ? 'all' : String(schedule.keep)],
      ['verify', schedule.verify ? 'on' : 'off'],
      ['target', schedule.target ?? 'the backup folder'],
      ['next run', schedule.nextRun ?? '-'],
    ]),
  );
}

/** Registers `appvisor backup`. */
export function registerBackup(cli: Cli): void {
  const backup = cli.program.command('backup').description('back instances up and restore them');
  backup
    .command('create')
    .description('back an instance up: its database and folder, in one archive')
    .argument('<instance>')
    .option('--template <template>', "archive name, e.g. #A/#I-#bn.tar (default: the schedule's)")
    .option('--passphrase-file <file>', 'encrypt with the passphrase on its first line')
    .option('--verify', 'then restore it into a scratch database and compare row counts')
    .option('--target <name>', 'stream the archive to this remote target (backup target list)')
    .action(withContext(cli, backupCreate));
  backup
    .command('list')
    .description('archives in the backup folder, newest first')
    .option('--instance <instance>', 'only those of this instance')
    .option('--target <name>', 'the archives on this remote target instead')
    .action(withContext(cli, backupList));
  backup
    .command('restore')
    .description('replace an instance from an archive, or make a new one from it')
    .argument('<archive>')
    .option('--into <instance>', 'replace this instance (same app)')
    .option('--as <new-id>', 'create a new instance from the archive')
    .option('--passphrase-file <file>', 'the passphrase of an encrypted archive')
    .option('--target <name>', 'the archive is this key on a remote target (downloaded first)')
    .option('--node <id>', "on a cluster: the archive is in this node's backup folder")
    .action(withContext(cli, backupRestore));
  backup
    .command('schedule')
    .description('show or change when all instances are backed up')
    .option('--cron <expr>', 'a cron expression (UTC), e.g. "0 3 * * *"')
    .option('--template <template>', 'archive name template')
    .option('--slots <n>', 'rolling slots for #bn')
    .option('--keep <n>', 'without #bn: archives kept per instance (0: all)')
    .option('--verify <on|off>', 'restore each backup into a scratch database and check it')
    .option('--off', 'no scheduled backups')
    .option('--target <name>', 'send scheduled backups to a remote target ("none": the folder)')
    .action(withContext(cli, backupSchedule));
  registerBackupTransfer(cli, backup);
  registerBackupTarget(cli, backup);
}
