import { AppvisorError } from '../errors/index.js';
import type { Store } from '../store/index.js';

/** The platform's own settings: `GET /settings`. */
export interface PlatformSettings {
  /** A free-form name of this platform (shown in the UI, `#L` in backup names); may be empty. */
  label: string;
  /** The DNS name the platform is reached by (a host name, no scheme or port); may be empty. */
  dnsName: string;
}

/** Keys of the store's settings table, by field. */
const keys: Record<keyof PlatformSettings, string> = {
  label: 'platform.label',
  dnsName: 'platform.dnsName',
};

const defaults: PlatformSettings = { label: '', dnsName: '' };

/** Longest label, in characters. */
export const maxLabelLength = 64;

function invalid(field: keyof PlatformSettings, message: string): AppvisorError {
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

/** The platform label and DNS name, kept in the store's settings table. */
export class SettingsService {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The current settings; defaults for those never set. */
  async get(): Promise<PlatformSettings> {
    const result = await this.#store.query<{ key: string; value: unknown }>(
      'SELECT key, value FROM settings WHERE key = ANY($1)',
      [Object.values(keys)],
    );
    const found = new Map(result.rows.map((row) => [row.key, row.value]));
    const text = (field: keyof PlatformSettings): string => {
      const value = found.get(keys[field]);
      return typeof value === 'string' ? value : defaults[field];
    };
    return { label: text('label'), dnsName: text('dnsName') };
  }

  /** Validates and stores the given fields together; answers the settings after the change. */
  async update(patch: Partial<PlatformSettings>): Promise<PlatformSettings> {
    const changes: [string, string][] = [];
    if (patch.label !== undefined) changes.push([keys.label, checkLabel(patch.label)]);
    if (patch.dnsName !== undefined) changes.push([keys.dnsName, checkDnsName(patch.dnsName)]);
    if (changes.length > 0) {
      await this.#store.transaction(async (query) => {
        for (const [key, value] of changes) {
          await query(
            `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now())
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`,
            [key, JSON.stringify(value)],
          );
        }
      });
    }
    return this.get();
  }
}
