import { inspect } from 'node:util';
import pg from 'pg';
import type {
  DatabaseInfo,
  InstanceInfo,
  ServiceMessage,
  Severity,
} from '../lib/service-protocol.js';
import { isConnectionFailure } from '../lib/pg-errors.js';
import { tracePool } from './trace.js';

/** Largest number of database connections one instance's pool opens. */
export const poolMax = 3;
/** An idle connection is closed after this long, so an idle instance holds no connection. */
export const poolIdleMs = 10_000;
/** Connecting to the database gives up after this long instead of waiting for ever. */
export const poolConnectTimeoutMs = 10_000;

/**
 * One instance inside a service, as the app sees it. Every value reflects the latest
 * `instance.start` / `instance.update`: read them when needed, never copy them elsewhere
 * (credentials may change while the service runs).
 */
export interface Instance {
  readonly id: string;
  readonly app: string;
  readonly domain: string;
  /** The web path, e.g. `/example.com/acme`; request URLs start with it. */
  readonly path: string;
  /** The instance password, shared with PBX App objects. */
  readonly password: string;
  /** The instance's own writable folder. */
  readonly dataDir: string;
  readonly database: DatabaseInfo;
  /** Trace flags that are on now; they change live with `instance.update`. */
  readonly traceFlags: ReadonlySet<string>;
  /**
   * A small pg.Pool for the instance's database, created on first access (no connection
   * before first use), at most 3 clients, idle clients closed after 10 s so an idle instance
   * holds no connection. Replaced (the old one ended) when an `instance.update` changes the
   * credentials, so read `instance.db` each time instead of keeping the pool. Throws once the
   * instance has stopped.
   */
  readonly db: pg.Pool;
  /**
   * Runs `work` in one transaction on a client of {@link db}: BEGIN, then `work(client)`, then
   * COMMIT, answering what `work` answered. When `work` throws (or COMMIT fails) it rolls back
   * and throws that error. The client is always released; one whose connection broke (the
   * ROLLBACK failed too, or the error was a lost connection) is destroyed, not returned to the
   * pool. Use `client`, not `instance.db`, inside: only its queries are in the transaction.
   */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /**
   * Writes a line to the app's log only when `flag` is on. Parts are joined with spaces;
   * strings as they are, errors as their stack, anything else as JSON.
   */
  trace(flag: string, ...parts: unknown[]): void;
  /** Always writes a line to the app's log (sent with `flag: null`); parts as for {@link trace}. */
  log(...parts: unknown[]): void;
  /** Records an event of this instance in the manager's event log. */
  event(kind: string, severity: Severity, text: string): void;
  /** Raises (`active: true`) or clears (`active: false`) an alarm of this instance. */
  alarm(code: string, severity: Severity, text: string, active: boolean): void;
}

/** One part of a log line as text: strings as they are, errors as their stack, else JSON. */
function partText(part: unknown): string {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return part.stack ?? `${part.name}: ${part.message}`;
  try {
    const json = JSON.stringify(part) as string | undefined;
    // undefined, functions and symbols have no JSON; show them as Node would.
    if (json !== undefined) return json;
  } catch {
    // circular structures and BigInts: fall through
  }
  return inspect(part, { depth: 4, breakLength: Infinity });
}

/** Joins log parts the way {@link Instance.trace} documents. */
export function formatParts(parts: readonly unknown[]): string {
  return parts.map(partText).join(' ');
}

function sameDatabase(a: DatabaseInfo, b: DatabaseInfo): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.database === b.database &&
    a.user === b.user &&
    a.password === b.password &&
    a.url === b.url
  );
}

/**
 * The SDK's {@link Instance}: holds the latest description, the lazy pool, and sends log,
 * event and alarm messages through `send`.
 */
export class ServiceInstance implements Instance {
  #info: InstanceInfo;
  #flags: Set<string>;
  #pool: pg.Pool | undefined;
  #closed = false;
  readonly #send: (message: ServiceMessage) => void;
  readonly #traced: boolean;

  /**
   * `traced` false leaves the pool as pg makes it: the SDK then traces none of its database
   * work (ServiceOptions.sdkTrace, for measuring what tracing costs).
   */
  constructor(info: InstanceInfo, send: (message: ServiceMessage) => void, traced = true) {
    this.#info = info;
    this.#flags = new Set(info.traceFlags);
    this.#send = send;
    this.#traced = traced;
  }

  get id(): string {
    return this.#info.id;
  }
  get app(): string {
    return this.#info.app;
  }
  get domain(): string {
    return this.#info.domain;
  }
  get path(): string {
    return this.#info.path;
  }
  get password(): string {
    return this.#info.password;
  }
  get dataDir(): string {
    return this.#info.dataDir;
  }
  get database(): DatabaseInfo {
    return { ...this.#info.database };
  }
  get traceFlags(): ReadonlySet<string> {
    return this.#flags;
  }

  get db(): pg.Pool {
    if (this.#closed)
      throw new Error(`instance ${this.id} has stopped: its database pool is closed`);
    if (this.#pool === undefined) {
      const { host, port, database, user, password } = this.#info.database;
      const pool = new pg.Pool({
        host,
        port,
        database,
        user,
        password,
        max: poolMax,
        idleTimeoutMillis: poolIdleMs,
        connectionTimeoutMillis: poolConnectTimeoutMs,
      });
      // An idle client that loses its connection (database restart) emits 'error' on the pool;
      // unheard, it would end the whole service. The pool drops that client by itself.
      pool.on('error', (error) => {
        this.log('database connection lost:', error.message);
      });
      if (this.#traced) tracePool(pool, this, poolMax);
      this.#pool = pool;
    }
    return this.#pool;
  }

  /**
   * Takes a new description (same id). Trace flags apply at once; when the database
   * credentials changed, the current pool is detached and returned for the caller to end (the
   * next `db` access builds a new one).
   */
  apply(info: InstanceInfo): pg.Pool | undefined {
    const previous = this.#info;
    this.#info = info;
    this.#flags = new Set(info.traceFlags);
    if (sameDatabase(previous.database, info.database)) return undefined;
    const pool = this.#pool;
    this.#pool = undefined;
    return pool;
  }

  /** Marks the instance stopped and returns its pool (if one was made) for the caller to end. */
  detach(): pg.Pool | undefined {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    return pool;
  }

  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.db.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const value = await work(client);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      if (isConnectionFailure(error)) broken = error as Error;
      else
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError as Error;
        });
      throw error;
    } finally {
      // A client given back with an error is destroyed: a broken connection never serves the
      // next query.
      client.release(broken);
    }
  }

  trace(flag: string, ...parts: unknown[]): void {
    if (!this.#flags.has(flag)) return;
    this.#send({ type: 'log', instance: this.id, flag, text: formatParts(parts) });
  }

  log(...parts: unknown[]): void {
    this.#send({ type: 'log', instance: this.id, flag: null, text: formatParts(parts) });
  }

  event(kind: string, severity: Severity, text: string): void {
    this.#send({ type: 'event', instance: this.id, kind, severity, text });
  }

  alarm(code: string, severity: Severity, text: string, active: boolean): void {
    this.#send({ type: 'alarm', instance: this.id, code, severity, text, active });
  }
}
