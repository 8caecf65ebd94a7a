import { lstat, rm } from 'node:fs/promises';
import {
  createServer,
  IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import { isConnectionFailure } from '../lib/pg-errors.js';
import { processChannel, type Channel } from './channel.js';
import { ServiceInstance, type Instance } from './instance.js';
import { checkMigrations, migrate, type Migration } from './migrations.js';
import { errorForLog, pathOf, traceRefusedUpgrade, traceRequest, traceWebSocket } from './trace.js';
import {
  parseMessage,
  type InstanceInfo,
  type ManagerMessage,
  type ServiceMessage,
} from '../lib/service-protocol.js';
import { sendJson } from '../lib/http-json.js';
import { asAppRequest, HttpError, sendError, type AppRequest } from './http.js';

/** What an app does with one of its instances; every handler is optional. */
export interface InstanceHandlers {
  /**
   * Answers an HTTP request for this instance. `request.path` is the path inside the instance
   * (`/count`), `request.query` its query; `request.url` stays the original full path (it
   * starts with `instance.path`). A router's `handle` (`createRouter`) fits here. A thrown
   * {@link HttpError} is answered with its status as JSON; any other throw or rejection is
   * logged to the instance's log and answered 500 without the error's text; 503 with
   * Retry-After when it is a failed or broken database connection (the database server
   * restarting).
   */
  http?(request: AppRequest, response: ServerResponse, instance: Instance): void | Promise<void>;
  /**
   * Takes an accepted WebSocket of this instance (the upgrade is done). `request` carries the
   * original path (`url`), the path inside the instance (`path`, e.g. `/ws`) and the headers.
   * Sockets still open when the instance stops are closed (1001) after the `stop` handler.
   */
  websocket?(socket: WebSocket, request: AppRequest, instance: Instance): void;
  /** Called after an `instance.update` was applied (the Instance already shows the new values). */
  update?(instance: Instance): void | Promise<void>;
  /** Called when the instance stops, before its pool is ended; bounded to 5 s. */
  stop?(instance: Instance): void | Promise<void>;
}

/** Default largest WebSocket message (16 MiB): large enough for apps, small enough for memory. */
export const maxPayload = 16 * 1024 * 1024;

/** An app that hosts instances. */
export interface ServiceDefinition {
  /**
   * Prepares one instance (e.g. creates its tables) and returns its handlers. The instance
   * receives requests only once this resolves; a throw or rejection fails the instance alone.
   */
  start(instance: Instance): InstanceHandlers | Promise<InstanceHandlers>;
  /**
   * The schema of each instance's database, versions 1, 2, 3…: before `start`, the pending ones
   * run in one transaction (docs/sdk.md#migrations). A failure fails the instance alone, its
   * database as it was.
   */
  migrations?: readonly Migration[];
}

/** Options of {@link createService}; the defaults are what a service started by appvisor needs. */
export interface ServiceOptions {
  /** Where messages come from and go to; default: the process's IPC channel. */
  channel?: Channel;
  /** Unix socket path for HTTP; default: env `APPVISOR_HTTP_SOCKET`; `null`: no HTTP server. */
  httpSocket?: string | null;
  /**
   * Default true: after a `shutdown` message, SIGTERM (process channel only) or the channel
   * closing, stop every instance, close the HTTP server, then `process.exit(0)`.
   */
  exitOnShutdown?: boolean;
  /**
   * Largest WebSocket message accepted, in bytes; a larger one closes its connection (1009).
   * Default {@link maxPayload}.
   */
  maxPayload?: number;
  /** Environment to read `APPVISOR_*` from; default `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Default true: the SDK traces its own work under the platform's trace flags (docs/sdk.md
   * "What the SDK traces"). False leaves out even the flag checks (for measuring their cost);
   * `instance.trace` works either way.
   */
  sdkTrace?: boolean;
}

/** A running service. */
export interface Service {
  /** Instances that have started and not stopped (those that are starting are not listed). */
  readonly instances: ReadonlyMap<string, Instance>;
  /**
   * Answers one HTTP request the way the service's own server does: the instance named by its
   * `x-appvisor-instance` header, refusals and errors answered alike. For hosts other than the
   * manager's socket, such as the test kit's `request()` (appvisor/sdk/testing), which drives it
   * without a socket. Resolves once the handler has returned.
   */
  dispatch(request: IncomingMessage, response: ServerResponse): Promise<void>;
  /**
   * Stops every instance (in parallel, each bounded to 5 s), closes the HTTP server and
   * removes its socket file. Idempotent; never exits the process.
   */
  close(): Promise<void>;
}

/** How long one instance may take to stop (its `stop` handler and its pool) before it is dropped. */
export const stopTimeoutMs = 5_000;
/** How long open HTTP connections may take to finish once the server closes. */
const serverCloseGraceMs = 1_000;

type InstanceState = 'starting' | 'ready' | 'stopping';

interface Hosted {
  readonly instance: ServiceInstance;
  state: InstanceState;
  handlers: InstanceHandlers;
  readonly sockets: Set<WebSocket>;
}

/** A request for an instance that cannot be served: status and JSON body. */
interface Refusal {
  status: number;
  code: string;
  message: string;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves true when `promise` settles within `ms`, false otherwise (it keeps running). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(done, done);
  });
}

/** Answers an upgrade request with a plain HTTP refusal and drops the socket. */
function refuseUpgrade(socket: Duplex, refusal: Refusal): void {
  const body = JSON.stringify({ code: refusal.code, message: refusal.message });
  const retry = refusal.status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}\r\n` +
      `Connection: close\r\n${retry}Content-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => {
      socket.destroy();
    },
  );
}

/** Removes what a previous run left at the socket path (a directory is left for listen to refuse). */
async function removeStale(path: string): Promise<void> {
  try {
    const stat = await lstat(path);
    if (!stat.isDirectory()) await rm(path, { force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Writes a line of the SDK's own to stderr (the manager puts it in the app's log). */
function warn(text: string): void {
  process.stderr.write(`appvisor sdk: ${text}\n`);
}

/** The runtime behind {@link createService}. */
class ServiceRuntime implements Service {
  readonly #definition: ServiceDefinition;
  readonly #channel: Channel;
  readonly #socketPath: string | null;
  readonly #exitOnShutdown: boolean;
  readonly #sdkTrace: boolean;
  readonly #hosted = new Map<string, Hosted>();
  readonly #ready = new Map<string, Instance>();
  /** The tail of each instance's message queue: messages of one id run one after the other. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #reported = new Set<string>();
  readonly #server: Server | null;
  readonly #wss: WebSocketServer;
  #closing: Promise<void> | undefined;
  readonly #listening: Promise<void>;

  constructor(definition: ServiceDefinition, options: ServiceOptions) {
    checkMigrations(definition.migrations ?? []);
    this.#definition = definition;
    const usesProcess = options.channel === undefined;
    this.#channel = options.channel ?? processChannel();
    // eslint-disable-next-line no-restricted-properties -- the SDK is the app's own code, and the manager passes the socket path this way
    const env = options.env ?? process.env;
    this.#socketPath =
      options.httpSocket === undefined ? env.APPVISOR_HTTP_SOCKET || null : options.httpSocket;
    this.#exitOnShutdown = options.exitOnShutdown ?? true;
    this.#sdkTrace = options.sdkTrace ?? true;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload ?? maxPayload,
    });
    this.#server = this.#socketPath === null ? null : this.#createServer();

    this.#channel.onMessage((message, handle) => {
      this.#receive(message, handle);
    });
    this.#channel.onClose(() => {
      void this.#shutdown();
    });
    if (usesProcess) {
      process.once('SIGTERM', () => {
        void this.#shutdown();
      });
    }
    this.#listening = this.#listen().then(
      () => {
        if (this.#closing === undefined)
          this.#send({
            type: 'ready',
            httpSocket: this.#socketPath,
            handoff: this.#server !== null,
          });
      },
      (error: unknown) => {
        warn(`cannot serve HTTP on ${this.#socketPath ?? '?'}: ${errorText(error)}`);
        void this.#shutdown(1);
      },
    );
  }

  get instances(): ReadonlyMap<string, Instance> {
    return this.#ready;
  }

  dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    return this.#onRequest(request, response);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  // --- messages ---------------------------------------------------------------------------

  #send(message: ServiceMessage): void {
    try {
      this.#channel.send(message);
    } catch (error) {
      warn(`cannot send ${message.type}: ${errorText(error)}`);
    }
  }

  /** Reports a malformed message to stderr, once per kind of problem, never its content. */
  #reportMalformed(reason: string): void {
    if (this.#reported.has(reason) || this.#reported.size >= 100) return;
    this.#reported.add(reason);
    warn(`ignored ${reason} (reported once)`);
  }

  #receive(value: unknown, handle?: unknown): void {
    const parsed = parseMessage(value);
    if (!parsed.ok) {
      this.#reportMalformed(parsed.reason);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'instance.start':
        void this.#enqueue(message.instance.id, () => this.#start(message.instance));
        break;
      case 'instance.update':
        void this.#enqueue(message.instance.id, () => this.#update(message.instance));
        break;
      case 'instance.stop':
        void this.#enqueue(message.id, () => this.#stop(message.id));
        break;
      case 'upgrade':
        this.#takeOver(message, handle);
        break;
      case 'shutdown':
        void this.#shutdown();
        break;
    }
  }

  /**
   * A WebSocket connection the manager handed over: the socket itself, with the request head
   * it read. The handshake completes here, as if the request had come to our own server.
   */
  #takeOver(message: Extract<ManagerMessage, { type: 'upgrade' }>, handle: unknown): void {
    if (!(handle instanceof Socket)) {
      this.#reportMalformed('upgrade: no socket came with the message');
      return;
    }
    const request = Object.assign(new IncomingMessage(handle), {
      method: message.method,
      url: message.url,
      headers: message.headers,
      httpVersion: '1.1',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
    });
    this.#onUpgrade(request, handle, Buffer.from(message.head, 'base64'));
    // A socket that arrives paused (one its sender never let read) would otherwise never
    // deliver a frame; resuming only now, after ws attached its reader, loses nothing.
    if (!handle.destroyed && handle.isPaused()) handle.resume();
  }

  /** Runs `task` after every earlier task of the same instance; instances never wait for each other. */
  #enqueue(id: string, task: () => Promise<void>): Promise<void> {
    const next = (this.#queues.get(id) ?? Promise.resolve()).then(task).catch((error: unknown) => {
      warn(`instance ${id}: ${errorText(error)}`);
    });
    this.#queues.set(id, next);
    void next.finally(() => {
      if (this.#queues.get(id) === next) this.#queues.delete(id);
    });
    return next;
  }

  // --- instance lifecycle -----------------------------------------------------------------

  async #start(info: InstanceInfo): Promise<void> {
    const { id } = info;
    if (this.#closing !== undefined) {
      this.#send({ type: 'instance.failed', id, error: 'the service is shutting down' });
      return;
    }
    if (this.#hosted.has(id)) {
      // A repeated start (the manager lost track, e.g. after a timeout): take the values, and
      // say ready again.
      await this.#update(info);
      this.#send({ type: 'instance.ready', id });
      return;
    }
    const instance = new ServiceInstance(
      info,
      (message) => {
        this.#send(message);
      },
      this.#sdkTrace,
    );
    const hosted: Hosted = { instance, state: 'starting', handlers: {}, sockets: new Set() };
    this.#hosted.set(id, hosted);
    try {
      await this.#migrate(instance);
      const handlers = (await this.#definition.start(instance)) as InstanceHandlers | undefined;
      hosted.handlers = handlers ?? {};
    } catch (error) {
      instance.log('start failed:', error);
      this.#hosted.delete(id);
      await instance
        .detach()
        ?.end()
        .catch(() => undefined);
      this.#send({ type: 'instance.failed', id, error: errorText(error) });
      return;
    }
    hosted.state = 'ready';
    this.#ready.set(id, instance);
    this.#send({ type: 'instance.ready', id });
  }

  /** Runs the pending migrations, if the app has any; says what changed in the log and events. */
  async #migrate(instance: Instance): Promise<void> {
    const migrations = this.#definition.migrations ?? [];
    if (migrations.length === 0) return;
    const result = await migrate(instance, migrations);
    if (result.applied.length === 0) return;
    const text = `database schema ${result.from} -> ${result.to} (migrations ${result.applied.join(', ')}, ${result.milliseconds} ms)`;
    instance.log(text);
    instance.event('migrated', 'info', text);
  }

  async #update(info: InstanceInfo): Promise<void> {
    const hosted = this.#hosted.get(info.id);
    if (hosted === undefined || hosted.state === 'stopping') return;
    const old = hosted.instance.apply(info);
    // Not awaited: a pool ends only once its clients are released, and a long query must not
    // hold the instance's queue. New queries already go to the new pool.
    if (old !== undefined) endPool(hosted.instance, old);
    try {
      await hosted.handlers.update?.(hosted.instance);
    } catch (error) {
      hosted.instance.log('update handler failed:', error);
    }
  }

  async #stop(id: string): Promise<void> {
    const hosted = this.#hosted.get(id);
    if (hosted === undefined) {
      this.#send({ type: 'instance.stopped', id });
      return;
    }
    hosted.state = 'stopping';
    this.#ready.delete(id);
    const { instance } = hosted;
    const finished = (async () => {
      try {
        await hosted.handlers.stop?.(instance);
      } catch (error) {
        instance.log('stop handler failed:', error);
      }
      closeSockets(hosted);
      await instance
        .detach()
        ?.end()
        .catch(() => undefined);
    })();
    if (!(await settlesWithin(finished, stopTimeoutMs))) {
      instance.log(`did not stop within ${stopTimeoutMs / 1000} s: dropped`);
      closeSockets(hosted);
      const pool = instance.detach();
      if (pool !== undefined) endPool(instance, pool);
    }
    this.#hosted.delete(id);
    this.#send({ type: 'instance.stopped', id });
  }

  // --- HTTP and WebSocket -----------------------------------------------------------------

  #createServer(): Server {
    const server = createServer((request, response) => {
      void this.#onRequest(request, response);
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#onUpgrade(request, socket, head);
    });
    return server;
  }

  async #listen(): Promise<void> {
    const server = this.#server;
    const path = this.#socketPath;
    if (server === null || path === null) return;
    await removeStale(path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** The ready instance a request is for, or why it cannot be served. */
  #target(request: IncomingMessage): Hosted | Refusal {
    const header = request.headers['x-appvisor-instance'];
    const id = typeof header === 'string' ? header : undefined;
    const hosted = id === undefined ? undefined : this.#hosted.get(id);
    if (id === undefined || hosted === undefined) {
      return {
        status: 404,
        code: 'INSTANCE_NOT_FOUND',
        message:
          id === undefined
            ? 'the request names no instance (x-appvisor-instance)'
            : `no instance "${id}" runs in this service`,
      };
    }
    if (hosted.state !== 'ready') {
      return {
        status: 503,
        // The code the front answers for an instance it cannot reach yet: one code for a
        // visitor, whichever of the two answered.
        code: 'INSTANCE_UNAVAILABLE',
        message: `instance "${id}" is ${hosted.state}`,
      };
    }
    return hosted;
  }

  async #onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = this.#target(request);
    if ('status' in target) {
      const { status, code, message } = target;
      sendJson(response, status, { code, message }, status === 503 ? { 'retry-after': '1' } : {});
      return;
    }
    const { instance, handlers } = target;
    if (this.#sdkTrace) traceRequest(instance, request, response);
    if (handlers.http === undefined) {
      sendJson(response, 404, {
        code: 'NOT_FOUND',
        message: `instance "${instance.id}" serves no HTTP`,
      });
      return;
    }
    try {
      await handlers.http(asAppRequest(request, instance.path), response, instance);
    } catch (error) {
      if (error instanceof HttpError && !response.headersSent) {
        sendError(response, error);
        return;
      }
      instance.log(`HTTP ${request.method ?? '?'} ${pathOf(request)} failed:`, errorForLog(error));
      if (!response.headersSent) {
        if (isConnectionFailure(error)) {
          // The database went away under the request (it restarts): a reason to come back,
          // not a fault of the app.
          sendJson(
            response,
            503,
            { code: 'DATABASE_UNAVAILABLE', message: 'the database is not reachable right now' },
            { 'retry-after': '2' },
          );
          return;
        }
        sendJson(response, 500, {
          code: 'INTERNAL',
          message: 'the app failed to answer this request',
        });
      } else {
        // Half an answer went out: the client must see it broken, not complete.
        response.destroy();
      }
    }
  }

  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that goes away mid-handshake must not become an unhandled 'error'.
    socket.on('error', () => {
      socket.destroy();
    });
    const target = this.#target(request);
    if ('status' in target) {
      refuseUpgrade(socket, target);
      return;
    }
    const { handlers } = target;
    const appRequest = asAppRequest(request, target.instance.path);
    if (handlers.websocket === undefined) {
      if (this.#sdkTrace) traceRefusedUpgrade(target.instance, request, 404);
      refuseUpgrade(socket, {
        status: 404,
        code: 'NOT_FOUND',
        message: `instance "${target.instance.id}" serves no WebSocket`,
      });
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      if (target.state !== 'ready') {
        ws.close(1001, 'instance stopped');
        return;
      }
      target.sockets.add(ws);
      ws.once('close', () => target.sockets.delete(ws));
      if (this.#sdkTrace) traceWebSocket(target.instance, request, ws);
      try {
        handlers.websocket?.(ws, appRequest, target.instance);
      } catch (error) {
        target.instance.log(`WebSocket ${pathOf(request)} failed:`, errorForLog(error));
        ws.close(1011, 'internal error');
      }
    });
  }

  // --- shutdown ---------------------------------------------------------------------------

  /** Closes, then exits when the options say so (a shutdown message, SIGTERM, channel gone). */
  async #shutdown(code = 0): Promise<void> {
    await this.close();
    if (this.#exitOnShutdown) {
      // eslint-disable-next-line no-restricted-properties -- the SDK owns the service process: the manager expects it to end after a shutdown
      process.exit(code);
    }
  }

  async #close(): Promise<void> {
    const ids = new Set([...this.#hosted.keys(), ...this.#queues.keys()]);
    // Each stop waits for earlier messages of its instance (a start may be running); a start
    // that never ends must not hold the shutdown, hence the outer bound.
    await Promise.all(
      [...ids].map((id) =>
        settlesWithin(
          this.#enqueue(id, () => this.#stop(id)),
          stopTimeoutMs + 500,
        ),
      ),
    );
    await this.#listening.catch(() => undefined);
    await this.#closeServer();
  }

  async #closeServer(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    if (server.listening) {
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeIdleConnections();
      if (!(await settlesWithin(closed, serverCloseGraceMs))) {
        server.closeAllConnections();
        await settlesWithin(closed, serverCloseGraceMs);
      }
    }
    // Node removes the socket file on close; this covers a server that never listened.
    if (this.#socketPath !== null)
      await rm(this.#socketPath, { force: true }).catch(() => undefined);
  }
}

/** Ends a detached pool in the background, noting a failure in the instance's log. */
function endPool(instance: ServiceInstance, pool: pg.Pool): void {
  pool.end().catch((error: unknown) => {
    instance.log('closing a database pool failed:', error);
  });
}

/** Closes an instance's open WebSockets: the instance that served them is gone. */
function closeSockets(hosted: Hosted): void {
  for (const ws of hosted.sockets) ws.close(1001, 'instance stopped');
  hosted.sockets.clear();
}

/**
 * Starts a service: serves HTTP on the Unix socket (removing a stale file first), then says
 * `ready`, and hosts instances as the manager's messages say. See docs/sdk.md.
 */
export function createService(
  definition: ServiceDefinition,
  options: ServiceOptions = {},
): Service {
  return new ServiceRuntime(definition, options);
}
