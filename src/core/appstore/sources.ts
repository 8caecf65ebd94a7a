import type { KeyObject } from 'node:crypto';
import { hasControlChars } from '../../lib/text-escape.js';
import { AppvisorError } from '../errors/index.js';
import { putSetting, type Store } from '../store/index.js';
import { parsePublicKey } from './signing.js';

/** One configured app store. */
export interface StoreSource {
  /** Short name, used in the CLI and shown in lists: 1–40 of a-z 0-9 - _. */
  name: string;
  /** URL of the store's `apps.json` (a URL ending in `/` gets `apps.json` added). */
  url: string;
  /** Trusted Ed25519 public keys; the index and every package must be signed by one. */
  keys: string[];
  /** Install unsigned (or wrongly signed) indexes and packages of this store anyway. */
  allowUnsigned: boolean;
}

const settingKey = 'appstore.sources';
const namePattern = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const maxSources = 20;

function invalid(field: string, message: string): AppvisorError {
  return new AppvisorError('APPSTORE_INVALID', message, { field });
}

/** Validates and normalizes a source; APPSTORE_INVALID naming the field otherwise. */
export function checkSource(input: {
  name: string;
  url: string;
  keys?: string[] | undefined;
  allowUnsigned?: boolean | undefined;
}): StoreSource {
  const name = input.name.trim();
  if (!namePattern.test(name)) {
    throw invalid('name', `"${name}" is not a valid store name: 1 to 40 of a-z 0-9 - _`);
  }
  // The URL parser would drop a tab or newline silently, and percent-encode a NUL.
  if (hasControlChars(input.url)) {
    throw invalid('url', 'an app store URL must not contain control characters');
  }
  let url: URL;
  try {
    url = new URL(input.url.trim());
  } catch {
    throw invalid('url', `"${input.url}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid('url', `an app store URL is http or https, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw invalid('url', 'an app store URL may not carry a user name or password');
  }
  if (url.pathname.endsWith('/')) url.pathname += 'apps.json';
  const keys = [...new Set((input.keys ?? []).map((key) => key.trim()).filter(Boolean))];
  for (const key of keys) parsePublicKey(key);
  const allowUnsigned = input.allowUnsigned ?? false;
  if (keys.length === 0 && !allowUnsigned) {
    throw invalid(
      'keys',
      'give the store the public key its packages are signed with, or allow unsigned packages',
    );
  }
  return { name, url: url.href, keys, allowUnsigned };
}

/** A source with its keys parsed. */
export interface TrustedSource extends StoreSource {
  publicKeys: KeyObject[];
}

/** The configured app stores, kept in the store's settings table in the order they were added. */
export class StoreSources {
  readonly #store: Store;
  readonly #changed: (() => void) | undefined;

  /** `changed` is called after every change of the list (what the stores offer changes). */
  constructor(store: Store, changed?: () => void) {
    this.#store = store;
    this.#changed = changed;
  }

  async list(): Promise<StoreSource[]> {
    const result = await this.#store.query<{ value: unknown }>(
      'SELECT value FROM settings WHERE key = $1',
      [settingKey],
    );
    const value = result.rows[0]?.value;
    return Array.isArray(value) ? (value as StoreSource[]) : [];
  }

  async trusted(): Promise<TrustedSource[]> {
    return (await this.list()).map((source) => ({
      ...source,
      publicKeys: source.keys.map((key) => parsePublicKey(key)),
    }));
  }

  async get(name: string): Promise<StoreSource> {
    const found = (await this.list()).find((source) => source.name === name);
    if (!found) throw new AppvisorError('APPSTORE_NOT_FOUND', `no app store named ${name}`);
    return found;
  }

  /** Adds a source, or replaces the one of the same name. */
  async put(input: Parameters<typeof checkSource>[0]): Promise<StoreSource> {
    const source = checkSource(input);
    await this.#change((sources) => {
      const at = sources.findIndex((s) => s.name === source.name);
      if (at >= 0) sources[at] = source;
      else if (sources.length >= maxSources) {
        throw invalid('name', `at most ${maxSources} app stores can be configured`);
      } else sources.push(source);
    });
    return source;
  }

  async remove(name: string): Promise<void> {
    await this.#change((sources) => {
      const at = sources.findIndex((s) => s.name === name);
      if (at < 0) throw new AppvisorError('APPSTORE_NOT_FOUND', `no app store named ${name}`);
      sources.splice(at, 1);
    });
  }

  /** Read, change and write in one transaction, so that two changes at once both count. */
  async #change(edit: (sources: StoreSource[]) => void): Promise<void> {
    await this.#store.transaction(async (query) => {
      await query('SELECT pg_advisory_xact_lock(hashtext($1))', [settingKey]);
      const result = await query<{ value: unknown }>('SELECT value FROM settings WHERE key = $1', [
        settingKey,
      ]);
      const value = result.rows[0]?.value;
      const sources = Array.isArray(value) ? [...(value as StoreSource[])] : [];
      edit(sources);
      await putSetting(query, settingKey, sources);
    });
    this.#changed?.();
  }
}
