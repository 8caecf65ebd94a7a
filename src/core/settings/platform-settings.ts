import { hasControlChars } from '../../lib/text-escape.js';
import { AppvisorError } from '../errors/index.js';
import { putSetting, type Store } from '../store/index.js';

/** Where alarm notifications go, as the configuration gives it (`alarms.url`, `alarms.smtp.to`). */
export interface AlarmTargets {
  /** The URL notifications are POSTed to; empty: none. */
  alarmUrl: string;
  /** Recipients of alarm e-mails (comma-separated); empty: none. */
  alarmEmail: string;
}

/** The platform's own settings: `GET /settings`. */
export interface PlatformSettings extends AlarmTargets {
  /** A free-form name of this platform (shown in the UI, `#L` in backup names); may be empty. */
  label: string;
  /** The DNS name the platform is reached by (a host name, no scheme or port); may be empty. */
  dnsName: string;
  /** The configuration's alarm URL and recipients, in effect while the settings are empty. */
  defaults: AlarmTargets;
}

/** The fields `PATCH /settings` changes; an empty string clears one. */
export type PlatformSettingsChange = Partial<Omit<PlatformSettings, 'defaults'>>;

type Field = keyof PlatformSettingsChange;

/** Keys of the store's settings table, by field. */
const keys: Record<Field, string> = {
  label: 'platform.label',
  dnsName: 'platform.dnsName',
  alarmUrl: 'alarms.url',
  alarmEmail: 'alarms.email',
};

const fields = Object.keys(keys) as Field[];

/** Longest label, in characters. */
export const maxLabelLength = 64;

/** Longest alarm URL, in characters. */
export const maxAlarmUrlLength = 2048;

function invalid(field: Field, message: string): AppvisorError {
  return new AppvisorError('SETTING_INVALID', message, { field });
}

/** A label: at most 64 printable characters (no control or format characters); trimmed. */
export function checkLabel(label: string): string {
  const trimmed = label.trim();
  if (Array.from(trimmed).length > maxLabelLength)
    throw invalid('label', `the label has more than ${maxLabelLength} characters`);
  if (/[\p{C}]/u.test(trimmed))
    throw invalid('label', 'the label may hold printable characters only');
  return trimmed;
}

const hostLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A host name (`apps.example.com`) in lower case without a final dot, or empty. */
export function checkDnsName(name: string): string {
  const lower = name.trim().toLowerCase().replace(/\.$/, '');
  if (lower === '') return '';
  if (lower.length > 253 || !lower.split('.').every((part) => hostLabel.test(part))) {
    throw invalid(
      'dnsName',
      `"${name}" is not a valid DNS name: letters, digits and hyphens in dot-separated labels, no scheme or port`,
    );
  }
  return lower;
}

/**
 * An alarm URL: an absolute `http://` or `https://` URL with a host, trimmed, or empty. The
 * refusal never repeats the URL, which may carry credentials.
 */
export function checkAlarmUrl(url: string): string {
  const trimmed = url.trim();
  if (trimmed === '') return '';
  if (trimmed.length > maxAlarmUrlLength)
    throw invalid('alarmUrl', `the alarm URL has more than ${maxAlarmUrlLength} characters`);
  if (hasControlChars(trimmed))
    throw invalid('alarmUrl', 'the alarm URL must not contain control characters');
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw invalid('alarmUrl', 'the alarm URL is not a URL: give http://host/… or https://host/…');
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || parsed.hostname === '')
    throw invalid('alarmUrl', 'the alarm URL must be an http:// or https:// URL with a host');
  return trimmed;
}

const address = /^[^\s@<>()[\],;:"]+@[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i;

/** Alarm e-mail recipients: addresses (`ops@example.com`) separated by commas, or empty. */
export function checkAlarmEmail(list: string): string {
  const addresses = list
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of addresses) {
    if (item.length > 254 || !address.test(item) || hasControlChars(item))
      throw invalid('alarmEmail', `"${item}" is not an e-mail address (name@example.com)`);
  }
  return addresses.join(', ');
}

const checks: Record<Field, (value: string) => string> = {
  label: checkLabel,
  dnsName: checkDnsName,
  alarmUrl: checkAlarmUrl,
  alarmEmail: checkAlarmEmail,
};

/**
 * The platform label, DNS name and alarm targets, kept in the store's settings table. The
 * alarm targets fall back to the configuration's while their settings are empty.
 */
export class SettingsService {
  readonly #store: Store;
  readonly #defaults: AlarmTargets;
  #last: PlatformSettings | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(store: Store, defaults: AlarmTargets = { alarmUrl: '', alarmEmail: '' }) {
    this.#store = store;
    this.#defaults = { ...defaults };
  }

  /** The current settings; empty strings for those never set. */
  async get(): Promise<PlatformSettings> {
    const result = await this.#store.query<{ key: string; value: unknown }>(
      'SELECT key, value FROM settings WHERE key = ANY($1)',
      [Object.values(keys)],
    );
    const found = new Map(result.rows.map((row) => [row.key, row.value]));
    const text = (field: Field): string => {
      const value = found.get(keys[field]);
      return typeof value === 'string' ? value : '';
    };
    const settings: PlatformSettings = {
      label: text('label'),
      dnsName: text('dnsName'),
      alarmUrl: text('alarmUrl'),
      alarmEmail: text('alarmEmail'),
      defaults: { ...this.#defaults },
    };
    this.#last = settings;
    return settings;
  }

  /**
   * The label and the alarm targets in effect now: the settings, else the configuration's.
   * While the store is away, the ones read last (never throws).
   */
  async current(): Promise<AlarmTargets & { label: string }> {
    const settings = await this.get().catch(() => this.#last);
    return {
      label: settings?.label ?? '',
      alarmUrl: settings?.alarmUrl || this.#defaults.alarmUrl,
      alarmEmail: settings?.alarmEmail || this.#defaults.alarmEmail,
    };
  }

  /** Calls `listener` after each change of the alarm URL or recipients. */
  onAlarmTargetsChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Validates and stores the given fields together; answers the settings after the change. */
  async update(patch: PlatformSettingsChange): Promise<PlatformSettings> {
    const changes: [string, string][] = [];
    for (const field of fields) {
      const value = patch[field];
      if (value !== undefined) changes.push([keys[field], checks[field](value)]);
    }
    if (changes.length > 0) {
      await this.#store.transaction(async (query) => {
        for (const [key, value] of changes) {
          await putSetting(query, key, value);
        }
      });
    }
    const settings = await this.get();
    if (patch.alarmUrl !== undefined || patch.alarmEmail !== undefined)
      for (const listener of this.#listeners) listener();
    return settings;
  }
}
