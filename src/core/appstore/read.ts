import type { Logger } from '../../lib/logger.js';
import type { AppService } from '../apps/index.js';
import { AppvisorError, errorCatalog, type ErrorCode } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { fetchText, type FetchLimits } from './download.js';
import { problemOf } from './operations.js';
import { packageStatement, parsePublicKey, verifyBytes } from './signing.js';
import type { StoreSources, TrustedSource } from './sources.js';
import { parseIndex, type IndexApp, type IndexVersion, type StoreIndex } from './store-index.js';
import type {
  InstalledView,
  InstallRecord,
  Resolved,
  StoreProblem,
  StoreVersionView,
} from './types.js';

/** What {@link StoreReader} needs. */
export interface StoreReaderOptions {
  store: Pick<Store, 'query'>;
  apps: Pick<AppService, 'list' | 'status'>;
  sources: Pick<StoreSources, 'trusted'>;
  logger: Logger;
  nodeId: string;
  fetch: FetchLimits;
  maxIndexBytes: number;
}

/** Every store's apps, and the stores that could not be read. */
export interface StoreReading {
  found: { source: TrustedSource; apps: IndexApp[] }[];
  errors: StoreProblem[];
}

/**
 * Reads the app stores: fetches each index and verifies its signature and freshness, finds a
 * version of an app, and tells which trusted key signed a package; and what is installed.
 */
export class StoreReader {
  readonly #options: StoreReaderOptions;

  constructor(options: StoreReaderOptions) {
    this.#options = options;
  }

  /** Every store's apps; a store that cannot be read is a problem, not a failure of the rest. */
  async read(): Promise<StoreReading> {
    const sources = await this.#options.sources.trusted();
    const results = await Promise.allSettled(sources.map((source) => this.#index(source)));
    const reading: StoreReading = { found: [], errors: [] };
    results.forEach((result, i) => {
      const source = sources[i]!;
      if (result.status === 'fulfilled') reading.found.push({ source, apps: result.value });
      else reading.errors.push(problemOf(source.name, result.reason));
    });
    return reading;
  }

  /** Fetches and verifies one store's index. */
  async #index(source: TrustedSource): Promise<IndexApp[]> {
    const { fetch: limits, maxIndexBytes } = this.#options;
    const text = await fetchText('the index', source.url, maxIndexBytes, limits);
    let verified = false;
    if (source.publicKeys.length > 0 || !source.allowUnsigned) {
      const sigUrl = new URL(source.url);
      sigUrl.pathname += '.sig';
      const signature = await fetchText('the index signature', sigUrl.href, 4096, limits).catch(
        (error: unknown) => {
          if (source.allowUnsigned) return '';
          throw new AppvisorError(
            'SIGNATURE_INVALID',
            `app store ${source.name}: its index is not signed (${(error as Error).message})`,
          );
        },
      );
      const valid =
        signature !== '' && verifyBytes(Buffer.from(text), signature, source.publicKeys);
      if (!valid && !source.allowUnsigned) {
        throw new AppvisorError(
          'SIGNATURE_INVALID',
          `app store ${source.name}: the index signature is not one of the trusted keys'`,
        );
      }
      verified = valid;
      if (!valid) {
        this.#options.logger.warn(
          { store: source.name },
          'the app store index is not signed by a trusted key; used because unsigned is allowed',
        );
      }
    }
    const index = parseIndex(text, new URL(source.url), source.name);
    await this.#checkFresh(source, index, verified);
    return index.apps;
  }

  /**
   * Refuses an index past its `expires` time, and a signed one older than the newest seen from
   * this store (the newest `published` is kept per store and URL), as TUF's timestamp role
   * does: a signature alone would let anyone replay an old index with its old, vulnerable
   * builds. A signed index must give both times. An index not verified by a trusted key (a
   * store that allows unsigned ones) proves nothing, so its `published` is not remembered.
   */
  async #checkFresh(source: TrustedSource, index: StoreIndex, verified: boolean): Promise<void> {
    const name = source.name;
    if (index.expires !== undefined && Date.parse(index.expires) <= Date.now()) {
      throw new AppvisorError(
        'APPSTORE_INDEX_EXPIRED',
        `app store ${name}: its index expired at ${index.expires}; the store must publish a fresh one`,
      );
    }
    if (!verified) return;
    if (index.published === undefined || index.expires === undefined) {
      throw new AppvisorError(
        'APPSTORE_INDEX_INVALID',
        `app store ${name}: its signed index gives no published and expires times, so an old one could be replayed; the store must rebuild it (appvisor store build or store sign)`,
      );
    }
    const { store, nodeId } = this.#options;
    const published = new Date(index.published);
    const seen = await store.query<{ published: Date }>(
      'SELECT published FROM store_index_seen WHERE node_id = $1 AND store = $2 AND url = $3',
      [nodeId, name, source.url],
    );
    const newest = seen.rows[0]?.published;
    if (newest && published.getTime() < newest.getTime()) {
      throw new AppvisorError(
        'APPSTORE_INDEX_REPLAYED',
        `app store ${name}: its index was published at ${published.toISOString()}, before the one already seen (${newest.toISOString()}); an old index is being served again`,
      );
    }
    await store.query(
      `INSERT INTO store_index_seen (node_id, store, url, published) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id, store, url)
       DO UPDATE SET published = GREATEST(store_index_seen.published, excluded.published)`,
      [nodeId, name, source.url, published],
    );
  }

  /** The trusted key (its text) that signed the package; null when none did. */
  signedBy(source: TrustedSource, app: IndexApp, version: IndexVersion): string | null {
    const signature = version.signature;
    if (!signature) return null;
    const statement = packageStatement({
      id: app.id,
      version: version.version,
      build: version.build,
      sha256: version.sha256,
      size: version.size,
    });
    const at = source.publicKeys.findIndex((key) => verifyBytes(statement, signature, [key]));
    return at < 0 ? null : normalizeKey(source.keys[at]!);
  }

  versionView(source: TrustedSource, app: IndexApp, version: IndexVersion): StoreVersionView {
    return {
      version: version.version,
      build: version.build,
      label: version.label,
      size: version.size,
      signed: this.signedBy(source, app, version) !== null,
    };
  }

  /** What store_installs gets once the resolved version is installed. */
  recordOf(resolved: Resolved): InstallRecord {
    return {
      app: resolved.app.id,
      store: resolved.source.name,
      version: resolved.version.version,
      build: resolved.version.build,
      sha256: resolved.version.sha256,
      key: this.signedBy(resolved.source, resolved.app, resolved.version),
    };
  }

  /** What is installed of each app, and from which store (while it is the version it put). */
  async installed(): Promise<Map<string, InstalledView>> {
    const apps = await this.#options.apps.list();
    const rows = await this.#options.store.query<{
      app: string;
      store: string;
      version: string;
      build: string;
    }>('SELECT app, store, version, build FROM store_installs WHERE node_id = $1', [
      this.#options.nodeId,
    ]);
    const byApp = new Map(rows.rows.map((row) => [row.app, row]));
    const installed = new Map<string, InstalledView>();
    for (const summary of apps) {
      const status = await this.#options.apps.status(summary.id).catch(() => undefined);
      if (!status) continue;
      const row = byApp.get(summary.id);
      // The row speaks of this install only while the version is the one it installed.
      const fromStore = row && row.version === status.version ? row : undefined;
      installed.set(summary.id, {
        version: status.version,
        build: status.build ?? (fromStore ? Number(fromStore.build) : null),
        store: fromStore?.store ?? null,
      });
    }
    return installed;
  }

  /** The version of an app to install: `version` (a version or a build), else the newest. */
  async resolve(
    id: string,
    options: { version?: string | undefined; store?: string | undefined },
    preferred: string | null,
  ): Promise<Resolved> {
    const { found, errors } = await this.read();
    // The store asked for alone; else the one the app came from first, then in their order.
    const order = [
      ...found.filter((f) => f.source.name === preferred),
      ...found.filter((f) => f.source.name !== preferred),
    ].filter((f) => options.store === undefined || f.source.name === options.store);
    if (options.store !== undefined && !found.some((f) => f.source.name === options.store)) {
      const problem = errors.find((e) => e.store === options.store);
      if (problem) throw notListed(id, [problem]);
      throw new AppvisorError('APPSTORE_NOT_FOUND', `no app store named ${options.store}`);
    }
    for (const { source, apps } of order) {
      const app = apps.find((a) => a.id === id);
      if (!app) continue;
      const version =
        options.version === undefined
          ? app.versions[0]!
          : app.versions.find(
              (v) => v.version === options.version || String(v.build) === options.version,
            );
      if (!version) {
        throw new AppvisorError(
          'APPSTORE_APP_NOT_FOUND',
          `app store ${source.name} has no version ${options.version} of ${id} (it has ${app.versions.map((v) => v.version).join(', ')})`,
        );
      }
      return { source, app, version };
    }
    throw notListed(id, errors);
  }

  /** Refuses a package whose signature is not a trusted key's, unless the store allows it. */
  requireSigned({ source, app, version }: Resolved): void {
    if (this.signedBy(source, app, version) !== null) return;
    if (source.allowUnsigned) {
      this.#options.logger.warn(
        { app: app.id, version: version.version, store: source.name },
        'installing a package without a valid signature: the store allows unsigned packages',
      );
      return;
    }
    throw new AppvisorError(
      'SIGNATURE_INVALID',
      version.signature
        ? `${app.id} ${version.version} from ${source.name}: the signature is not one of the trusted keys'`
        : `${app.id} ${version.version} from ${source.name} is not signed`,
    );
  }
}

/** A public key in the one text form {@link publicKeyText} gives, whatever form it was given in. */
export function normalizeKey(text: string): string {
  return parsePublicKey(text).export({ format: 'jwk' }).x ?? text;
}

/** Not listed: a store that could not be read may be why, so its problem is the error. */
export function notListed(id: string, errors: StoreProblem[]): AppvisorError {
  const [first] = errors;
  if (!first) return new AppvisorError('APPSTORE_APP_NOT_FOUND', `no app store lists ${id}`);
  const detail = errors.map((e) => e.message).join('; ');
  const code = first.code in errorCatalog ? (first.code as ErrorCode) : 'INTERNAL';
  return new AppvisorError(code, `no app store that could be read lists ${id}; ${detail}`);
}
