import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type {
  ConfigDocument,
  ConfigExportBody,
  ConfigImportBody,
  ImportResult,
} from '../../api/index.js';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { CliError } from '../client.js';
import type { Cli, CommandContext } from '../context.js';
import { printJson } from '../output.js';
import { passphraseFrom } from '../passphrase.js';

/**
 * `appvisor config export <file> [--include-secrets --passphrase-file F]`: the platform's
 * configuration file, written atomically with mode 0600 (`-`: to stdout).
 */
export async function configExport(
  context: CommandContext,
  file: string,
  options: { includeSecrets?: boolean; passphraseFile?: string },
): Promise<void> {
  const passphrase = await passphraseFrom(options.passphraseFile);
  if (options.includeSecrets && passphrase === undefined) {
    throw new CliError(
      'PASSPHRASE_WRONG',
      '--include-secrets needs --passphrase-file: the secrets are encrypted with it',
    );
  }
  const body: ConfigExportBody = {
    includeSecrets: options.includeSecrets ?? false,
    ...(passphrase === undefined ? {} : { passphrase }),
  };
  const document = await context.client.call<ConfigDocument>('POST', '/config/export', body);
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (file === '-') {
    context.io.stdout.write(text);
    return;
  }
  const target = resolve(file);
  await writeFileAtomic(target, text, 0o600).catch((error: unknown) => {
    throw new CliError(
      'BAD_REQUEST',
      `cannot write ${target}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  });
  if (context.json) {
    printJson(context.io, { file: target, secrets: body.includeSecrets });
    return;
  }
  const summary = `${document.apps.length} apps, ${document.instances.length} instances, ${document.stores.length} stores, ${document.backupTargets?.length ?? 0} backup targets`;
  context.io.stdout.write(
    `exported the configuration to ${target} (${summary}${body.includeSecrets ? ', secrets encrypted' : ', no secrets'})\n`,
  );
}

/** The plan as lines: `+` new, `~` changed, `=` kept; nothing at all when nothing changes. */
function printPlan(context: CommandContext, result: ImportResult): void {
  const lines = result.changes.map((change) => change.text);
  const work = result.changes.filter((change) => change.action !== 'keep').length;
  if (lines.length > 0) context.io.stdout.write(`${lines.join('\n')}\n`);
  if (result.dryRun) {
    context.io.stdout.write(
      work === 0 ? 'nothing to change\n' : `${work} changes (dry run: nothing was changed)\n`,
    );
  } else {
    context.io.stdout.write(result.applied ? `imported: ${work} changes\n` : 'nothing to change\n');
  }
}

/** `appvisor config import <file> [--dry-run] [--passphrase-file F]` (`-`: from stdin). */
export async function configImport(
  context: CommandContext,
  file: string,
  options: { dryRun?: boolean; passphraseFile?: string },
): Promise<void> {
  const text = await (file === '-' ? readStream(context.io.stdin) : readFile(file, 'utf8')).catch(
    (error: unknown) => {
      if (error instanceof CliError) throw error;
      throw new CliError(
        'BAD_REQUEST',
        `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    },
  );
  const passphrase = await passphraseFrom(options.passphraseFile);
  const body: ConfigImportBody = {
    file: text,
    dryRun: options.dryRun ?? false,
    ...(passphrase === undefined ? {} : { passphrase }),
  };
  const result = await context.client.call<ImportResult>('POST', '/config/import', body);
  if (context.json) printJson(context.io, result);
  else printPlan(context, result);
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Registers `appvisor config`. */
export function registerConfig(cli: Cli): void {
  const config = cli.program
    .command('config')
    .description(
      'the platform configuration as one file: settings, stores, apps, instances, backup targets and schedule',
    );
  config
    .command('export')
    .description('write the configuration file ("-": to stdout)')
    .argument('<file>', 'where to write it (mode 0600)')
    .option(
      '--include-secrets',
      "add the certificate, instance passwords and backup targets' credentials, encrypted",
    )
    .option('--passphrase-file <file>', 'encrypt the secrets with the passphrase on its first line')
    .action(
      async (file: string, options: { includeSecrets?: boolean; passphraseFile?: string }) => {
        await configExport(cli.context(), file, options);
      },
    );
  config
    .command('import')
    .description(
      'check a configuration file and apply it as a whole: adds and changes, never removes',
    )
    .argument('<file>', 'the file ("-": from stdin)')
    .option('--dry-run', 'only print what would change')
    .option('--passphrase-file <file>', "the passphrase of the file's secrets")
    .action(async (file: string, options: { dryRun?: boolean; passphraseFile?: string }) => {
      await configImport(cli.context(), file, options);
    });
}
