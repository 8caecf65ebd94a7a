import { CommanderError } from 'commander';
import type { PlatformSettings } from '../api/index.js';
import type { CommandContext } from './commands.js';
import { printJson, table } from './output.js';

function printSettings(context: CommandContext, settings: PlatformSettings): void {
  if (context.json) {
    printJson(context.io, settings);
    return;
  }
  const rows = [
    ['label', settings.label || '-'],
    ['dns name', settings.dnsName || '-'],
  ];
  context.io.stdout.write(`${table(rows)}\n`);
}

/** `appvisor settings show` */
export async function settingsShow(context: CommandContext): Promise<void> {
  printSettings(context, await context.client.call<PlatformSettings>('GET', '/settings'));
}

/** `appvisor settings set [--label L] [--dns-name N]`; an empty value clears the setting. */
export async function settingsSet(
  context: CommandContext,
  options: { label?: string; dnsName?: string },
): Promise<void> {
  const body: Partial<PlatformSettings> = {};
  if (options.label !== undefined) body.label = options.label;
  if (options.dnsName !== undefined) body.dnsName = options.dnsName;
  if (Object.keys(body).length === 0)
    throw new CommanderError(2, 'appvisor.usage', 'give --label, --dns-name or both');
  printSettings(context, await context.client.call<PlatformSettings>('PATCH', '/settings', body));
}
