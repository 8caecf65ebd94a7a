import { readFile } from 'node:fs/promises';
import type { CertificateStatus } from '../../api/index.js';
import { CliError } from '../client.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { printAnswer, table } from '../output.js';

function printStatus(context: CommandContext, status: CertificateStatus): void {
  printAnswer(context, status, () =>
    table([
      ['subject', status.subject.replace(/\n/g, ', ')],
      ['issuer', status.issuer.replace(/\n/g, ', ')],
      ['valid', `${status.validFrom} to ${status.validTo}`],
      ['chain', `${status.chainLength} certificate(s)${status.selfSigned ? ', self-signed' : ''}`],
      ['sha256', status.fingerprint256],
    ]),
  );
}

/** `appvisor cert show [--pem]`: with `--pem`, only the certificates served (for `--ca`). */
export async function certShow(context: CommandContext, options: { pem?: boolean }): Promise<void> {
  const status = await context.client.call<CertificateStatus>('GET', '/cert');
  if (options.pem === true && !context.json) context.io.stdout.write(status.pem);
  else printStatus(context, status);
}

/** `appvisor cert set <bundle.pem> <key.pem>` */
export async function certSet(
  context: CommandContext,
  bundlePath: string,
  keyPath: string,
): Promise<void> {
  const read = (path: string) =>
    readFile(path, 'utf8').catch((error: unknown) => {
      throw new CliError(
        'CERT_INVALID',
        `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    });
  const [cert, key] = await Promise.all([read(bundlePath), read(keyPath)]);
  printStatus(context, await context.client.call<CertificateStatus>('PUT', '/cert', { cert, key }));
}

/** `appvisor cert reset` */
export async function certReset(context: CommandContext): Promise<void> {
  printStatus(context, await context.client.call<CertificateStatus>('POST', '/cert/reset'));
}

/** Registers `appvisor cert`. */
export function registerCert(cli: Cli): void {
  const cert = cli.program.command('cert').description("the front's TLS certificate");
  cert
    .command('show')
    .description('subject, issuer, validity and fingerprint')
    .option(
      '--pem',
      "print only the certificates served, in PEM (to trust with another machine's --ca)",
    )
    .action(withContext(cli, certShow));
  cert
    .command('set')
    .description('use a PEM bundle (leaf first) and its key; served to new connections at once')
    .argument('<bundle.pem>')
    .argument('<key.pem>')
    .action(withContext(cli, certSet));
  cert
    .command('reset')
    .description('go back to a new self-signed certificate')
    .action(withContext(cli, certReset));
}
