/**
 * The SDK's own tracing under the platform's trace flags (docs/sdk.md "What the SDK traces"):
 * `database` (queries, pool connections and waits), `webserver` (requests, WebSocket opens and
 * closes), `webserver-traffic` (headers and body sizes). `app-websocket` lines are written where
 * the login happens (app-websocket.ts), with the helpers here.
 *
 * The contract is "cheap when off": every hook checks its flag first and, when it is off,
 * builds no string, takes no time and allocates nothing per call. What is never traced: query
 * parameter values, the query string of a URL, cookies, authorization and other secret-looking
 * headers, passwords, login digests and session keys, and the content of WebSocket frames.
 */
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type pg from 'pg';
import type { WebSocket } from 'ws';

/** What tracing needs of an instance: its live flags and its trace method. */
export interface Tracer {
  readonly traceFlags: ReadonlySet<string>;
  trace(flag: string, ...parts: unknown[]): void;
}

/** The SDK's trace flags (the platform's names). */
export const traceFlag = {
  database: 'database',
  appWebsocket: 'app-websocket',
  webserver: 'webserver',
  webserverTraffic: 'webserver-traffic',
} as const;

/** SQL text longer than this is cut in trace lines (a log line holds at most 16 KiB). */
export const maxTracedSqlChars = 1_000;

/** Milliseconds since `started`, with one decimal, for trace lines. */
function elapsed(started: number): string {
  return `${(performance.now() - started).toFixed(1)} ms`;
}

/** The request path without its query (queries may carry tokens). */
export function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?', 1)[0] ?? '/';
}

// --- database -------------------------------------------------------------------------------

type QueryFunction = (config: unknown, values?: unknown, callback?: unknown) => unknown;
type QueryCallback = (error: Error | undefined, result: unknown) => void;

/** The SQL text of a query's first argument, on one line and cut to {@link maxTracedSqlChars}. */
function sqlOf(config: unknown): string {
  const text =
    typeof config === 'string'
      ? config
      : typeof (config as { text?: unknown }).text === 'string'
        ? (config as { text: string }).text
        : '?';
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > maxTracedSqlChars ? `${line.slice(0, maxTracedSqlChars)}…` : line;
}

/** Rows a query returned or changed; a multi-statement query answers one result per statement. */
function rowsOf(result: unknown): number {
  if (Array.isArray(result)) return result.reduce((sum: number, one) => sum + rowsOf(one), 0);
  const { rowCount, rows } = (result ?? {}) as { rowCount?: number | null; rows?: unknown[] };
  return rowCount ?? rows?.length ?? 0;
}

/**
 * A database error for a trace line: its SQLSTATE and message. Messages of class 22 (data
 * exceptions: `invalid input syntax for type integer: "…"`) may quote a parameter's value, so
 * theirs is withheld; the error itself still reaches the app.
 */
export function sqlErrorText(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return text;
  if (code.startsWith('22'))
    return `SQLSTATE ${code} (a data exception; its message may quote a value)`;
  return `SQLSTATE ${code} ${text}`;
}

/** Whether `error` is a PostgreSQL data exception (SQLSTATE class 22). */
function isDataException(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}

/**
 * An error as the SDK's line for a failing request handler (HTTP, WebSocket) shows it: the
 * error itself, its stack included, except that a data exception (SQLSTATE class 22), whose
 * message may quote a value a visitor sent, is told by its code ({@link sqlErrorText}). A
 * failing start, update, stop or migration is logged whole: that is the app's own code on its
 * own data, and its message is what an admin needs to fix it. What the app logs itself is the
 * app's to word.
 */
export function errorForLog(error: unknown): unknown {
  if (!isDataException(error)) return error;
  const frames = (error.stack ?? '').split('\n').filter((line) => line.startsWith('    at '));
  return [`${error.name}: ${sqlErrorText(error)}`, ...frames].join('\n');
}

/**
 * Makes `client.query` trace each query under `database` (the SQL text, duration, rows or the
 * error, never the values). Called once per connection, when the pool opens it; `pool.query`
 * runs on these clients too. Submittables (cursors, COPY streams) pass untraced.
 */
function traceClient(client: pg.PoolClient, instance: Tracer): void {
  const query = client.query.bind(client) as QueryFunction;
  const traced: QueryFunction = (config, values, callback) => {
    if (
      !instance.traceFlags.has(traceFlag.database) ||
      config == null ||
      typeof (config as { submit?: unknown }).submit === 'function'
    )
      return query(config, values, callback);
    const started = performance.now();
    const report = (error: unknown, result?: unknown) => {
      if (error === undefined || error === null)
        instance.trace(
          traceFlag.database,
          `query ${elapsed(started)}, ${rowsOf(result)} rows: ${sqlOf(config)}`,
        );
      else
        instance.trace(
          traceFlag.database,
          `query failed after ${elapsed(started)}, ${sqlErrorText(error)}: ${sqlOf(config)}`,
        );
    };
    const done = typeof values === 'function' ? values : callback;
    if (typeof done === 'function') {
      const answer: QueryCallback = (error, result) => {
        report(error, result);
        (done as QueryCallback)(error, result);
      };
      return typeof values === 'function' ? query(config, answer) : query(config, values, answer);
    }
    const result = query(config, values);
    if (result instanceof Promise)
      result.then(
        (value: unknown) => {
          report(undefined, value);
        },
        (error: unknown) => {
          report(error);
        },
      );
    return result;
  };
  client.query = traced as typeof client.query;
}

type ConnectCallback = (
  error: Error | undefined,
  client: pg.PoolClient | undefined,
  release: (release?: unknown) => void,
) => void;
type ConnectFunction = (callback?: ConnectCallback) => Promise<pg.PoolClient> | undefined;

/**
 * Traces an instance's pool under `database`: each query of its clients, each connection
 * opened and closed, and a wait for a free connection when all `max` are busy.
 */
export function tracePool(pool: pg.Pool, instance: Tracer, max: number): void {
  const on = () => instance.traceFlags.has(traceFlag.database);
  pool.on('connect', (client) => {
    traceClient(client, instance);
    if (on()) instance.trace(traceFlag.database, `connected (${pool.totalCount} of ${max} open)`);
  });
  pool.on('remove', () => {
    if (on()) instance.trace(traceFlag.database, `connection closed (${pool.totalCount} open)`);
  });
  // pool.query takes its client through this.connect, so this sees its waits too.
  const connect = pool.connect.bind(pool) as ConnectFunction;
  const traced: ConnectFunction = (callback) => {
    if (!on() || pool.idleCount > 0 || pool.totalCount < max) return connect(callback);
    const started = performance.now();
    instance.trace(
      traceFlag.database,
      `all ${max} connections busy: waiting (${pool.waitingCount + 1} waiting)`,
    );
    const report = (error: unknown) => {
      instance.trace(
        traceFlag.database,
        error
          ? `no connection after ${elapsed(started)}: ${sqlErrorText(error)}`
          : `got a connection after ${elapsed(started)}`,
      );
    };
    if (callback !== undefined)
      return connect((error, client, release) => {
        report(error);
        callback(error, client, release);
      });
    const result = connect();
    result?.then(
      () => {
        report(undefined);
      },
      (error: unknown) => {
        report(error);
      },
    );
    return result;
  };
  pool.connect = traced as typeof pool.connect;
}

// --- web server -----------------------------------------------------------------------------

/**
 * Header names whose values never go into a trace line: credentials, cookies, and anything
 * named like a token, key, secret, password, session or signature.
 */
const secretHeader =
  /^(cookie|set-cookie|authorization|proxy-authorization)$|token|secret|passw|auth|session|key|signature|csrf|xsrf/i;

/** Headers for a trace line, with secret ones shown as `(hidden)`. */
export function tracedHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders): string {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    shown[name] = secretHeader.test(name) ? '(hidden)' : value;
  }
  return JSON.stringify(shown);
}

/** Bytes of a chunk given to write/end/push (strings in their encoding). */
function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(
      chunk,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
    );
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Traces one HTTP request of an instance, if `webserver` or `webserver-traffic` is on as it
 * arrives (else it returns at once): its line once the response closes; with
 * `webserver-traffic`, its headers and both body sizes. Must be called before the body is
 * read (synchronously in the request handler), so that its bytes are counted.
 */
export function traceRequest(
  instance: Tracer,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const flags = instance.traceFlags;
  if (!flags.has(traceFlag.webserver) && !flags.has(traceFlag.webserverTraffic)) return;
  const started = performance.now();
  const method = request.method ?? '?';
  const path = pathOf(request);
  if (flags.has(traceFlag.webserverTraffic))
    instance.trace(
      traceFlag.webserverTraffic,
      `${method} ${path} request headers ${tracedHeaders(request.headers)}`,
    );

  let received = 0;
  let sent = 0;
  // The HTTP parser hands body chunks to push(); write() and end() take the app's.
  const push = request.push.bind(request);
  request.push = (chunk: unknown, encoding?: BufferEncoding) => {
    received += chunkBytes(chunk, encoding);
    return push(chunk, encoding);
  };
  const write = response.write.bind(response) as (...args: unknown[]) => boolean;
  response.write = ((chunk: unknown, ...rest: unknown[]) => {
    sent += chunkBytes(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as typeof response.write;
  const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
  response.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') sent += chunkBytes(chunk, rest[0]);
    return end(chunk, ...rest);
  }) as typeof response.end;

  response.once('close', () => {
    const outcome = response.writableFinished ? String(response.statusCode) : 'aborted';
    if (instance.traceFlags.has(traceFlag.webserver))
      instance.trace(
        traceFlag.webserver,
        `${method} ${path} ${outcome} ${sent} B ${elapsed(started)}`,
      );
    if (instance.traceFlags.has(traceFlag.webserverTraffic))
      instance.trace(
        traceFlag.webserverTraffic,
        `${method} ${path} response ${outcome} headers ${tracedHeaders(response.getHeaders())}, body ${sent} B; request body ${received} B`,
      );
  });
}

/**
 * Traces an accepted WebSocket of an instance under `webserver`: opened (with its request
 * headers under `webserver-traffic`), and closed with its code. The close is watched on every
 * socket (one listener for its lifetime) so that a flag switched on later still sees it.
 */
export function traceWebSocket(instance: Tracer, request: IncomingMessage, ws: WebSocket): void {
  const flags = instance.traceFlags;
  const started = flags.has(traceFlag.webserver) ? performance.now() : undefined;
  if (started !== undefined)
    instance.trace(traceFlag.webserver, `WebSocket ${pathOf(request)} opened`);
  if (flags.has(traceFlag.webserverTraffic))
    instance.trace(
      traceFlag.webserverTraffic,
      `WebSocket ${pathOf(request)} request headers ${tracedHeaders(request.headers)}`,
    );
  ws.once('close', (code) => {
    if (!instance.traceFlags.has(traceFlag.webserver)) return;
    const after = started === undefined ? '' : ` after ${elapsed(started)}`;
    instance.trace(traceFlag.webserver, `WebSocket ${pathOf(request)} closed ${code}${after}`);
  });
}

/** Traces a WebSocket upgrade the SDK refused (no handler, instance not ready) under `webserver`. */
export function traceRefusedUpgrade(
  instance: Tracer,
  request: IncomingMessage,
  status: number,
): void {
  if (instance.traceFlags.has(traceFlag.webserver))
    instance.trace(traceFlag.webserver, `WebSocket ${pathOf(request)} refused ${status}`);
}
