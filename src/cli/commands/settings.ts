import { CommanderError } from 'commander';
import type { PlatformSettings, PlatformSettingsChange } from '../../api/index.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { printAnswer, table } from '../output.js';

/** A setting that falls back to the configuration: its value, else the configuration's. */
function withDefault(value: string, fallback: string): string {
  if (value) return value;
  return fallback ? `${fallback} (configuration)` : '-';
}

function printSettings(context: CommandContext, settings: PlatformSettings): void {
  printAnswer(context, settings, () =>
    table([
      ['label', settings.label || '-'],
      ['dns name', settings.dnsName || '-'],
      ['alarm url', withDefault(settings.alarmUrl, settings.defaults.alarmUrl)],
      ['alarm e-mail', withDefault(settings.alarmEmail, settings.defaults.alarmEmail)],
    ]),
  );
}

/** `appvisor settings show` */
export async function settingsShow(context: CommandContext): Promise<void> {
  printSettings(context, await context.client.call<PlatformSettings>('GET', '/settings'));
}

/**
 * `appvisor settings set [--label L] [--dns-name N] [--alarm-url U] [--alarm-email E]`; an
 * empty value clears the setting (the alarm ones then fall back to the configuration).
 */
export async function settingsSet(
  context: CommandContext,
  options: PlatformSettingsChange,
): Promise<void> {
  const body: PlatformSettingsChange = {};
  for (const field of ['label', 'dnsName', 'alarmUrl', 'alarmEmail'] as const) {
    const value = options[field];
    if (value !== undefined) body[field] = value;
  }
  if (Object.keys(body).length === 0) {
    throw new CommanderError(
      2,
      'appvisor.usage',
      'give at least one of --label, --dns-name, --alarm-url, --alarm-email',
    );
  }
  printSettings(context, await context.client.call<PlatformSettings>('PATCH', '/settings', body));
}

/** Registers `appvisor settings`. */
export function registerSettings(cli: Cli): void {
  const settings = cli.program
    .command('settings')
    .description('platform settings: the label, the DNS name, where alarms are sent');
  settings
    .command('show')
    .description('the platform label, DNS name, alarm URL and alarm e-mail recipients')
    .action(withContext(cli, settingsShow));
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
    .action(withContext(cli, settingsSet));
}
