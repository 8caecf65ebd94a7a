/**
 * Named remote backup targets, kept in the store (table `backup_targets`) with their
 * credentials sealed by the manager's secret key: an S3-compatible bucket (`s3://bucket/prefix`)
 * or a WebDAV folder (`https://host/path`). Nothing here ever answers or logs a credential:
 * a target's view says only whether it has them.
 */
import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import type { SecretBox } from '../../lib/secret-box.js';
import { hasControlChars } from '../../lib/text-escape.js';
import { AppvisorError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { RemoteStore } from './remote.js';
import { s3Store } from './remote-s3.js';
import { webdavStore } from './remote-webdav.js';

/** A target as list and the API show it: never its credentials. */
export interface BackupTarget {
  name: string;
  kind: 's3' | 'webdav';
  /** `s3://bucket/prefix` or the WebDAV folder's `http(s)://` URL. */
  url: string;
  /** S3: the endpoint of a non-AWS server (MinIO, Ceph), else null. */
  endpoint: string | null;
  /** S3: the region. */
  region: string | null;
  /** S3: path-style addressing. */
  pathStyle: boolean | null;
  /** Whether credentials are stored (they are never shown). */
  credentials: boolean;
  createdAt: string;
}

/** What `target add` takes. */
export interface TargetInput {
  name: string;
  url: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  accessKey?: string;
  secretKey?: string;
  user?: string;
  password?: string;
}

/** What a target test proved. */
export interface TargetTest {
  name: string;
  /** Milliseconds the probe's write, read and removal took. */
  ms: number;
}

/** The sealed part of a row: what `target add` takes as credentials. */
export interface TargetCredentials {
  accessKey?: string;
  secretKey?: string;
  user?: string;
  password?: string;
}

interface Row {
  name: string;
  kind: 's3' | 'webdav';
  url: string;
  options: { endpoint?: string; region?: string; pathStyle?: boolean };
  credentials_sealed: string | null;
  created_at: Date;
}

function invalid(field: string, message: string): AppvisorError {
  return new AppvisorError('TARGET_INVALID', message, { field });
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** An `http(s)://` URL without credentials, query or fragment, or the error for `field`. */
function httpUrl(field: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(field, `${field} "${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(field, `${field} is an http:// or https:// URL`);
  }
  if (url.username || url.password) {
    throw invalid(field, `${field} must not hold credentials: give them as options`);
  }
  if (url.search || url.hash) throw invalid(field, `${field} takes no query or fragment`);
  return url;
}

/**
 * Checks `input` whole; answers the row to store and the credentials to seal. An s3:// target
 * needs both keys unless `requireCredentials` is false (a configuration import without
 * secrets), and then still both or neither.
 */
function validate(
  input: TargetInput,
  requireCredentials = true,
): {
  row: Omit<Row, 'credentials_sealed' | 'created_at'>;
  credentials: TargetCredentials;
} {
  for (const [key, value] of Object.entries(input)) {
    if (typeof value === 'string' && hasControlChars(value)) {
      throw invalid(key, `${key} must not contain control characters`);
    }
  }
  if (!namePattern.test(input.name)) {
    throw invalid('name', 'a target name has 1 to 64 letters, digits, ".", "_" or "-"');
  }
  if (input.url.startsWith('s3://')) {
    for (const key of ['user', 'password'] as const) {
      if (input[key] !== undefined) throw invalid(key, `an s3:// target takes no ${key}`);
    }
    const [bucket = '', ...rest] = input.url.slice(5).replace(/\/+$/, '').split('/');
    if (!bucketPattern.test(bucket)) {
      throw invalid('url', `"${bucket}" is not an S3 bucket name`);
    }
    if (rest.some((part) => part === '' || part === '.' || part === '..')) {
      throw invalid('url', 'the key prefix has an empty, "." or ".." segment');
    }
    const keys = input.accessKey !== undefined || input.secretKey !== undefined;
    if ((requireCredentials || keys) && (!input.accessKey || !input.secretKey)) {
      throw invalid(
        input.accessKey ? 'secretKey' : 'accessKey',
        'an s3:// target needs an access key and a secret key',
      );
    }
    const endpoint = input.endpoint === undefined ? undefined : httpUrl('endpoint', input.endpoint);
    if (endpoint && endpoint.pathname !== '/') {
      throw invalid('endpoint', 'the endpoint is a server (scheme, host, port), not a path');
    }
    const region = input.region ?? 'us-east-1';
    if (!/^[a-z0-9-]{1,40}$/.test(region)) throw invalid('region', `"${region}" is not a region`);
    return {
      row: {
        name: input.name,
        kind: 's3',
        url: `s3://${[bucket, ...rest].join('/')}`,
        // A server of one's own (MinIO, Ceph) is addressed by path unless told otherwise.
        options: {
          ...(endpoint ? { endpoint: endpoint.origin } : {}),
          region,
          pathStyle: input.pathStyle ?? endpoint !== undefined,
        },
      },
      credentials: keys ? { accessKey: input.accessKey, secretKey: input.secretKey } : {},
    };
  }
  for (const key of ['endpoint', 'region', 'pathStyle', 'accessKey', 'secretKey'] as const) {
    if (input[key] !== undefined) throw invalid(key, `only an s3:// target takes ${key}`);
  }
  const url = httpUrl('url', input.url);
  if (input.password !== undefined && input.user === undefined) {
    throw invalid('user', 'a password needs a user');
  }
  return {
    row: { name: input.name, kind: 'webdav', url: url.href, options: {} },
    credentials:
      input.user === undefined ? {} : { user: input.user, password: input.password ?? '' },
  };
}

/** What a target is, without its credentials: the configuration file's part of it. */
export interface TargetSettings {
  name: string;
  url: string;
  endpoint: string | null;
  region: string | null;
  pathStyle: boolean | null;
}

/**
 * Checks a target as `target add` does (`TARGET_INVALID`, its `field` the key at fault) and
 * answers its settings the way they are stored (a normalized URL, the default region and
 * addressing); credentials are checked when given, and not required.
 */
export function checkTarget(input: TargetInput): TargetSettings {
  const { row } = validate(input, false);
  const s3 = row.kind === 's3';
  return {
    name: row.name,
    url: row.url,
    endpoint: row.options.endpoint ?? null,
    region: s3 ? (row.options.region ?? null) : null,
    pathStyle: s3 ? (row.options.pathStyle ?? false) : null,
  };
}

function viewOf(row: Row): BackupTarget {
  return {
    name: row.name,
    kind: row.kind,
    url: row.url,
    endpoint: row.options.endpoint ?? null,
    region: row.kind === 's3' ? (row.options.region ?? null) : null,
    pathStyle: row.kind === 's3' ? (row.options.pathStyle ?? false) : null,
    credentials: row.credentials_sealed !== null,
    createdAt: row.created_at.toISOString(),
  };
}

/** The registry of targets. */
export class BackupTargets {
  readonly #store: Pick<Store, 'query'>;
  readonly #secrets: SecretBox;

  constructor(store: Pick<Store, 'query'>, secrets: SecretBox) {
    this.#store = store;
    this.#secrets = secrets;
  }

  async #row(name: string): Promise<Row> {
    const found = await this.#store.query<Row>('SELECT * FROM backup_targets WHERE name = $1', [
      name,
    ]);
    const row = found.rows[0];
    if (!row)
      throw new AppvisorError('TARGET_NOT_FOUND', `no backup target ${name}`, { field: 'target' });
    return row;
  }

  /** Every target, by name. */
  async list(): Promise<BackupTarget[]> {
    const found = await this.#store.query<Row>('SELECT * FROM backup_targets ORDER BY name');
    return found.rows.map(viewOf);
  }

  /** One target; `TARGET_NOT_FOUND`. */
  async show(name: string): Promise<BackupTarget> {
    return viewOf(await this.#row(name));
  }

  /** Adds a target, validated whole first: `TARGET_INVALID`, `TARGET_EXISTS`. */
  async add(input: TargetInput): Promise<BackupTarget> {
    const { row, credentials } = validate(input);
    const sealed =
      Object.keys(credentials).length === 0
        ? null
        : this.#secrets.seal(JSON.stringify(credentials));
    const made = await this.#store
      .query<Row>(
        `INSERT INTO backup_targets (name, kind, url, options, credentials_sealed)
         VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [row.name, row.kind, row.url, JSON.stringify(row.options), sealed],
      )
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === '23505') {
          throw new AppvisorError('TARGET_EXISTS', `a backup target ${row.name} exists`, {
            field: 'name',
          });
        }
        throw error;
      });
    return viewOf(made.rows[0]!);
  }

  /**
   * Adds a target or replaces the one of its name whole (its creation time stays), with the
   * credentials given or none (a target without them is listed as such and fails its test):
   * what a configuration import and its undo set. `TARGET_INVALID`.
   */
  async put(input: TargetInput): Promise<BackupTarget> {
    const { row, credentials } = validate(input, false);
    const sealed =
      Object.keys(credentials).length === 0
        ? null
        : this.#secrets.seal(JSON.stringify(credentials));
    const made = await this.#store.query<Row>(
      `INSERT INTO backup_targets (name, kind, url, options, credentials_sealed)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, url = EXCLUDED.url,
         options = EXCLUDED.options, credentials_sealed = EXCLUDED.credentials_sealed
       RETURNING *`,
      [row.name, row.kind, row.url, JSON.stringify(row.options), sealed],
    );
    return viewOf(made.rows[0]!);
  }

  /**
   * The target's credentials in the clear, for the sealed secrets block of a configuration
   * export only (never answered by the API or logged); `{}` when it has none. `TARGET_NOT_FOUND`.
   */
  async credentialsOf(name: string): Promise<TargetCredentials> {
    const row = await this.#row(name);
    return row.credentials_sealed
      ? (JSON.parse(this.#secrets.open(row.credentials_sealed)) as TargetCredentials)
      : {};
  }

  /** Removes a target (never its archives); `TARGET_NOT_FOUND`. */
  async remove(name: string): Promise<void> {
    const gone = await this.#store.query('DELETE FROM backup_targets WHERE name = $1', [name]);
    if (gone.rowCount === 0) {
      throw new AppvisorError('TARGET_NOT_FOUND', `no backup target ${name}`, { field: 'target' });
    }
  }

  /** The target `name`, opened: close it when done. */
  async open(name: string): Promise<RemoteStore> {
    const row = await this.#row(name);
    const credentials = (
      row.credentials_sealed ? JSON.parse(this.#secrets.open(row.credentials_sealed)) : {}
    ) as TargetCredentials;
    if (row.kind === 's3') {
      const [bucket = '', ...rest] = row.url.slice(5).split('/');
      return s3Store({
        name,
        bucket,
        prefix: rest.join('/'),
        ...(row.options.endpoint ? { endpoint: row.options.endpoint } : {}),
        region: row.options.region ?? 'us-east-1',
        pathStyle: row.options.pathStyle ?? false,
        accessKey: credentials.accessKey ?? '',
        secretKey: credentials.secretKey ?? '',
      });
    }
    return webdavStore({ name, url: row.url, ...credentials });
  }

  /**
   * Writes a small hidden probe object, reads it back and removes it: the target works with
   * its credentials, or the catalog's `TARGET_*` error says why not.
   */
  async test(name: string): Promise<TargetTest> {
    const remote = await this.open(name);
    const started = Date.now();
    const key = `.appvisor-probe-${randomBytes(6).toString('hex')}`;
    const content = Buffer.from(`appvisor probe ${new Date().toISOString()}\n`);
    try {
      await remote.put(key, Readable.from([content]));
      try {
        const back = await buffer(await remote.get(key));
        if (!back.equals(content)) {
          throw new AppvisorError(
            'TARGET_FAILED',
            `backup target ${name}: the probe read back differs`,
          );
        }
      } finally {
        await remote.remove(key);
      }
      return { name, ms: Date.now() - started };
    } finally {
      remote.close();
    }
  }
}
