/**
 * The test kit: a service (createService) run in the test's own process as appvisor would run
 * it, with a throwaway PostgreSQL, fake instances that each get a role and database of their
 * own, requests without sockets, and AppWebsocket clients. docs/sdk.md, "Testing a service".
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'light-my-request';
import type { Instance } from '../instance.js';
import { createService, type Service, type ServiceDefinition } from '../service.js';
import type { InstanceInfo, ServiceMessage, Severity } from '../../lib/service-protocol.js';
import { AppWebsocketClient } from './app-websocket-client.js';
import { atExit } from './exit-cleanup.js';
import { KitChannel } from './kit-channel.js';
import { startTestPostgres, type TestPostgres } from './test-postgres.js';

/** How long an instance may take to start (its migrations and `start`) or to stop. */
export const instanceTimeoutMs = 30_000;

/** Options of {@link startTestKit}. */
export interface TestKitOptions {
  /**
   * A server to use instead of a new one (shared by several kits of one test file); the kit
   * then leaves it running at {@link TestKit.close}. Databases are named after instance ids:
   * kits that share a server share the database of an id they both use.
   */
  postgres?: TestPostgres;
  /** Largest WebSocket message, as the service option of that name. */
  maxPayload?: number;
}

/** A fake instance; every field has a default. */
export interface FakeInstanceOptions {
  /** Default `i1`, `i2`… in the order of creation. */
  id?: string;
  /** Default `app`. */
  app?: string;
  /** Default `example.com`. */
  domain?: string;
  /** Default `/<domain>/<id>`. */
  path?: string;
  /** Default: random. */
  password?: string;
  /** Trace flags that are on; default none. */
  traceFlags?: string[];
}

/** An instance the kit started. */
export interface TestInstance {
  readonly id: string;
  readonly path: string;
  readonly password: string;
  /** What the service was told in `instance.start` (its database included). */
  readonly info: InstanceInfo;
  /** The SDK's object for it, while it runs (what the app's handlers receive). */
  readonly instance: Instance | undefined;
}

/** One request for {@link TestKit.request}. */
export interface KitRequest {
  /** Default GET. */
  method?: string;
  /** The path inside the instance (`/notes?x=1`); the kit puts the instance's path in front. */
  path?: string;
  headers?: OutgoingHttpHeaders;
  /** A string or Buffer as it is; anything else as JSON (with its content-type). */
  body?: unknown;
}

/** The answer to a {@link KitRequest}. */
export interface KitResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  /** The body as UTF-8 text. */
  body: string;
  /** The body parsed as JSON (cast it to what the test expects); throws when it is none. */
  json(): unknown;
}

/** A line the service wrote to an instance's (or its own) log. */
export interface LogLine {
  instance: string | undefined;
  /** The trace flag it was written under; null for `instance.log`. */
  flag: string | null;
  text: string;
}

/** An event or alarm the service reported. */
export interface ReportedEvent {
  instance: string | undefined;
  kind: string;
  severity: Severity;
  text: string;
}

/** A service run by the kit; see {@link startTestKit}. */
export interface TestKit {
  /** The running service (its `instances`, `dispatch`). */
  readonly service: Service;
  /** The throwaway PostgreSQL (its `query` runs as the superuser). */
  readonly postgres: TestPostgres;
  /** Lines written to logs so far (with trace flags that were on). */
  readonly logs: readonly LogLine[];
  /** Events reported so far (e.g. `migrated`). */
  readonly events: readonly ReportedEvent[];
  /**
   * Starts a fake instance and resolves once it is ready; rejects with the instance's error
   * when it fails (a migration, `start`). Starting an id again after {@link stopInstance}
   * keeps its database, as a restart of a real instance does.
   */
  startInstance(options?: FakeInstanceOptions): Promise<TestInstance>;
  /** Stops an instance (its `stop` handler runs) and resolves once it has stopped. */
  stopInstance(instance: TestInstance): Promise<void>;
  /** Sends a request to an instance through the service, without a socket. */
  request(instance: TestInstance, request?: KitRequest | string): Promise<KitResponse>;
  /**
   * Opens a WebSocket to an instance at `path` inside it (default `/`); log in with
   * `client.login(instance.password)`.
   */
  websocket(instance: TestInstance, path?: string): Promise<AppWebsocketClient>;
  /** Closes the clients, stops the service and removes the server and every temp folder. */
  close(): Promise<void>;
}

/** A database name from an instance id: what PostgreSQL accepts and the kit checks. */
function databaseNameOf(id: string): string {
  return `kit_${id.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

const isReady = (id: string) => (message: ServiceMessage) =>
  (message.type === 'instance.ready' || message.type === 'instance.failed') && message.id === id;

/**
 * Starts `definition` in this process as appvisor would start the service, with its own
 * PostgreSQL (unless {@link TestKitOptions.postgres} is given). Close it with `close()`.
 */
export async function startTestKit(
  definition: ServiceDefinition,
  options: TestKitOptions = {},
): Promise<TestKit> {
  const folder = await mkdtemp(join(tmpdir(), 'appvisor-kit-service-'));
  const forget = atExit(() => {
    rmSync(folder, { recursive: true, force: true });
  });
  let postgres = options.postgres;
  const ownsPostgres = postgres === undefined;
  let service: Service | undefined;
  try {
    postgres ??= await startTestPostgres();
    const channel = new KitChannel();
    const socketPath = join(folder, 'http.sock');
    service = createService(definition, {
      channel,
      httpSocket: socketPath,
      exitOnShutdown: false,
      env: {},
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
    });
    await channel.waitFor(
      (message): message is Extract<ServiceMessage, { type: 'ready' }> => message.type === 'ready',
      0,
      instanceTimeoutMs,
      'the service did not say ready',
    );
    return new Kit(service, postgres, ownsPostgres, channel, { path: folder, forget }, socketPath);
  } catch (error) {
    await service?.close();
    if (ownsPostgres) await postgres?.close();
    await rm(folder, { recursive: true, force: true });
    forget();
    throw error;
  }
}

class Kit implements TestKit {
  readonly #clients = new Set<AppWebsocketClient>();
  #created = 0;
  #closing: Promise<void> | undefined;

  constructor(
    readonly service: Service,
    readonly postgres: TestPostgres,
    private readonly ownsPostgres: boolean,
    private readonly channel: KitChannel,
    /** The kit's temp folder, and its removal at exit to cancel once it is removed. */
    private readonly temp: { path: string; forget: () => void },
    private readonly socketPath: string,
  ) {}

  get logs(): LogLine[] {
    return this.channel.messages.flatMap((m) =>
      m.type === 'log' ? [{ instance: m.instance, flag: m.flag, text: m.text }] : [],
    );
  }

  get events(): ReportedEvent[] {
    return this.channel.messages.flatMap((m) =>
      m.type === 'event'
        ? [{ instance: m.instance, kind: m.kind, severity: m.severity, text: m.text }]
        : [],
    );
  }

  async startInstance(options: FakeInstanceOptions = {}): Promise<TestInstance> {
    this.#created += 1;
    const id = options.id ?? `i${this.#created}`;
    const domain = options.domain ?? 'example.com';
    const password = options.password ?? randomBytes(12).toString('base64url');
    const database = await this.postgres.createDatabase(
      databaseNameOf(id),
      randomBytes(18).toString('base64url'),
    );
    const dataDir = join(this.temp.path, 'data', id);
    await mkdir(dataDir, { recursive: true });
    const info: InstanceInfo = {
      id,
      app: options.app ?? 'app',
      domain,
      path: options.path ?? `/${domain}/${id}`,
      password,
      enabled: true,
      traceFlags: options.traceFlags ?? [],
      dataDir,
      database,
    };
    const from = this.channel.messages.length;
    this.channel.deliver({ type: 'instance.start', instance: info });
    const answer = await this.channel.waitFor(
      (m): m is Extract<ServiceMessage, { type: 'instance.ready' | 'instance.failed' }> =>
        isReady(id)(m),
      from,
      instanceTimeoutMs,
      `instance ${id} was neither ready nor failed within ${instanceTimeoutMs / 1000} s`,
    );
    if (answer.type === 'instance.failed') {
      throw new Error(`instance ${id} failed: ${answer.error}`);
    }
    const service = this.service;
    return {
      id,
      path: info.path,
      password,
      info,
      get instance() {
        return service.instances.get(id);
      },
    };
  }

  async stopInstance(instance: TestInstance): Promise<void> {
    const from = this.channel.messages.length;
    this.channel.deliver({ type: 'instance.stop', id: instance.id });
    await this.channel.waitFor(
      (m): m is Extract<ServiceMessage, { type: 'instance.stopped' }> =>
        m.type === 'instance.stopped' && m.id === instance.id,
      from,
      instanceTimeoutMs,
      `instance ${instance.id} did not stop`,
    );
  }

  async request(instance: TestInstance, request: KitRequest | string = {}): Promise<KitResponse> {
    const {
      method = 'GET',
      path = '/',
      headers = {},
      body,
    } = typeof request === 'string' ? { path: request } : request;
    const json = body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body);
    const response = await inject(
      (req, res) => {
        void this.service.dispatch(req, res);
      },
      {
        method: method.toUpperCase() as 'GET',
        url: `${instance.path}${path.startsWith('/') ? path : `/${path}`}`,
        headers: {
          ...(json ? { 'content-type': 'application/json' } : {}),
          ...headers,
          // What the front sends: the instance named, never what a client said.
          'x-appvisor-instance': instance.id,
          'x-forwarded-for': '127.0.0.1',
          'x-forwarded-proto': 'http',
        },
        ...(body === undefined
          ? {}
          : {
              payload:
                typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
            }),
      },
    );
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body,
      json: (): unknown => JSON.parse(response.body),
    };
  }

  async websocket(instance: TestInstance, path = '/'): Promise<AppWebsocketClient> {
    const inside = path.startsWith('/') ? path : `/${path}`;
    const client = new AppWebsocketClient(
      `ws+unix://${this.socketPath}:${instance.path}${inside}`,
      {
        headers: { 'x-appvisor-instance': instance.id },
      },
    );
    this.#clients.add(client);
    void client.closed.then(() => this.#clients.delete(client));
    return client.open();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#clients].map((client) => client.close()));
      await this.service.close();
      if (this.ownsPostgres) await this.postgres.close();
      await rm(this.temp.path, { recursive: true, force: true });
      this.temp.forget();
    })();
    return this.#closing;
  }
}
