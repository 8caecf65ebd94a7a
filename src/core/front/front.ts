import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import {
  constants as http2Constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { Socket, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { isHttp2 } from '../../lib/http-json.js';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import {
  guardRequests,
  guardServer,
  guardUpgrades,
  type GuardReport,
} from '../../lib/server-guard.js';
import { AppvisorError, httpErrorOf, sendError } from '../errors/index.js';
import { tlsServerOptions, type CertificatePair } from '../tls/index.js';
import { proxyRequest, retrySeconds, type InstanceTarget } from './proxy.js';
import { handOff, proxyUpgrade } from './upgrade.js';
import { clientOf } from './peer.js';
import { restBelow, serveStatic } from './static-files.js';
import { grantLoginPath, serveGrantLogin, type GrantExchange } from './grant-login.js';

/** Handles one HTTP request (Node's signature; any framework's handler fits). */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

type AnyServer = Server | HttpsServer | Http2SecureServer;

/**
 * Streams one HTTP/2 client may have open at once. Node offers 2^32-1 unless told; nginx's
 * default is 128, and so is this.
 */
const http2MaxStreams = 128;

/** Where the front listens. */
export interface FrontOptions {
  http: { host: string; port: number };
  https: { enabled: boolean; host: string; port: number; http2?: boolean };
  logger: Logger;
  /** Time a client has to send the request head. */
  headersTimeoutMs?: number;
  /** Open connections one client address may hold (0: no limit). */
  maxConnectionsPerClient?: number;
  /** Open connections of all clients together (0: no limit). */
  maxConnections?: number;
  /** Longest time a request to an app may go without a byte either way (0: none). */
  idleTimeoutMs?: number;
  /** Time an idle keep-alive connection is kept. */
  keepAliveTimeoutMs?: number;
  /** How long close() waits for requests in flight before cutting connections. */
  closeGraceMs?: number;
}

/** A listening address, as shown in status and printed at start. */
export interface FrontAddress {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

const managerPrefix = '/manager';
/** Where the other nodes of a cluster call this one (docs/cluster.md). */
const peerPrefix = '/.appvisor/peer/';

function isManagerPath(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '/';
  return path === managerPrefix || path.startsWith(`${managerPrefix}/`);
}

/** What a request gets when its handler failed before answering. */
const internalFailure = httpErrorOf(new AppvisorError('INTERNAL'));

/**
 * The host name of a `Host` header, without its port; `localhost` when there is none or it is
 * not a plain name or address (a redirect never carries what a client wrote in other forms).
 */
function hostName(header: string | string[] | undefined): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d+)?$/.exec(
    typeof header === 'string' ? header : '',
  );
  return match?.[1] ?? 'localhost';
}

/**
 * The one HTTP/HTTPS front of the platform. It binds its ports first thing at start (so a
 * taken port fails before anything else is made), answers 503 until the manager is ready,
 * then routes instance paths to their services and points `/manager` to the admin origin
 * (the admin listener). TLS certificates can be swapped at any time
 * and apply to new connections.
 */
export class Front implements Component {
  readonly name = 'front';
  readonly #options: FrontOptions;
  readonly #servers: AnyServer[] = [];
  /** The connections of each server, for cutting them when close() runs out of time. */
  readonly #sockets = new Map<AnyServer, Set<Socket>>();
  /** HTTP/2 connections, which Node's HTTP/1 bookkeeping does not see. */
  readonly #sessions = new Set<ServerHttp2Session>();
  #http: Server | undefined;
  #https: HttpsServer | Http2SecureServer | undefined;
  #adminOrigin: { scheme: 'http' | 'https'; port: number } | undefined;
  #grantExchange: GrantExchange | undefined;
  #resolve: ((path: string) => InstanceTarget | undefined) | undefined;
  #lookup: ((path: string) => Promise<InstanceTarget | undefined>) | undefined;
  #peerSecret: string | undefined;
  #peerApi: RequestHandler | undefined;
  #serving = false;
  /** Open connections by client address, for the per-client limit. */
  readonly #perClient = new Map<string, number>();
  /** Open connections of both servers, for the global limit. */
  #open = 0;

  constructor(options: FrontOptions) {
    this.#options = options;
  }

  /** Whatever escaped a request, an upgrade or a server: logged, never fatal. */
  readonly #report: GuardReport = (error, where) => {
    this.#options.logger.error({ err: error, where }, 'front: an error escaped its handler');
  };

  /** Listens on the configured ports. Throws PORT_IN_USE naming the port. */
  async bind(): Promise<void> {
    const { http, https } = this.#options;
    this.#http = this.#setup(
      createHttpServer(
        { maxHeaderSize: 16 * 1024 },
        guardRequests(this.#dispatchFor('http'), this.#report, internalFailure),
      ),
      'http',
    );
    await this.#listen(this.#http, 'http', http.host, http.port);
    if (https.enabled) {
      const handler = guardRequests(this.#dispatchFor('https'), this.#report, internalFailure);
      this.#https = this.#setup(
        https.http2 === false
          ? createHttpsServer({ maxHeaderSize: 16 * 1024, ...tlsServerOptions }, handler)
          : this.#http2Server(handler),
        'https',
      );
      await this.#listen(this.#https, 'https', https.host, https.port);
    }
  }

  /**
   * The TLS server offering HTTP/2 by ALPN, and HTTP/1.1 (with its WebSocket upgrades, which
   * HTTP/2 does not carry here) on the same port to clients that ask for it or for nothing.
   * HTTP/2 requests reach the same handler through Node's compatibility objects, which offer
   * every member the front's handlers use (url, method, headers, socket.remoteAddress, the
   * body as a stream; writeHead, end, headersSent, close, destroy).
   */
  #http2Server(handler: RequestHandler): Http2SecureServer {
    const server = createSecureServer(
      {
        ...tlsServerOptions,
        allowHTTP1: true,
        settings: { maxConcurrentStreams: http2MaxStreams, maxHeaderListSize: 16 * 1024 },
      },
      handler as unknown as Parameters<typeof createSecureServer>[1],
    );
    const keepAlive = this.#options.keepAliveTimeoutMs ?? 5_000;
    server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      // The keep-alive timeout of HTTP/1.1: a connection goes once it has had no request in
      // flight for that long. One with requests in flight is left to their idle timeout.
      let streams = 0;
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        idle = setTimeout(() => {
          session.close();
        }, keepAlive).unref();
      };
      arm();
      session.on('stream', (stream) => {
        streams++;
        clearTimeout(idle);
        stream.once('close', () => {
          if (--streams === 0 && !session.closed) arm();
        });
      });
      session.once('close', () => {
        clearTimeout(idle);
        this.#sessions.delete(session);
      });
    });
    // A session's protocol errors end that session; they are the client's, not the front's.
    server.on('sessionError', () => undefined);
    return server;
  }

  #setup<T extends AnyServer>(server: T, scheme: 'http' | 'https'): T {
    const http1 = server as Server;
    http1.headersTimeout = this.#options.headersTimeoutMs ?? 20_000;
    http1.keepAliveTimeout = this.#options.keepAliveTimeoutMs ?? 5_000;
    // No total time for a request: uploads and downloads of apps may be long, and the admin
    // API bounds its own bodies (a total for small ones, an idle time for package uploads).
    // Requests to apps get an idle timeout instead: no byte either way for idleTimeoutMs.
    http1.requestTimeout = 0;
    const idle = this.#options.idleTimeoutMs ?? 0;
    // Before the dispatcher, so that the admin API may still set its own (upload idle time).
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      // Set per request: a keep-alive connection may carry app and admin requests in turn.
      const ms = isManagerPath(request.url ?? '/') ? 0 : idle;
      if (isHttp2(response)) {
        // One stream of a connection that carries others: only this request is cut.
        const { stream } = response as unknown as Http2ServerResponse;
        stream.setTimeout(ms, () => {
          stream.close(http2Constants.NGHTTP2_CANCEL);
        });
      } else {
        request.socket.setTimeout(ms);
      }
    });
    const perClient = this.#options.maxConnectionsPerClient ?? 0;
    const total = this.#options.maxConnections ?? 0;
    const sockets = new Set<Socket>();
    this.#sockets.set(server, sockets);
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? '';
      const open = (this.#perClient.get(address) ?? 0) + 1;
      if ((perClient > 0 && open > perClient) || (total > 0 && this.#open >= total)) {
        socket.destroy();
        return;
      }
      // Counted until the socket closes in this process: a WebSocket handed to a service
      // closes here once sent, so it stops counting; a piped one (HTTPS) keeps counting.
      this.#open++;
      this.#perClient.set(address, open);
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
        this.#open--;
        const left = (this.#perClient.get(address) ?? 1) - 1;
        if (left <= 0) this.#perClient.delete(address);
        else this.#perClient.set(address, left);
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (socket.writable && error.code !== 'ECONNRESET') {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else {
        socket.destroy();
      }
    });
    const upgradeTo = (
      request: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      target: InstanceTarget | undefined,
      again = true,
    ): void => {
      if (!target) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const view = clientOf(request, scheme, this.#peerSecret);
      // Only a plain connection can be handed over (TLS state cannot travel); one forwarded
      // by another node is plain, whatever its visitor used.
      if (
        scheme === 'http' &&
        !target.peer &&
        target.ready &&
        !target.outage &&
        socket instanceof Socket &&
        handOff(request, socket, head, target, view)
      ) {
        return;
      }
      // A node that refuses the connection may have lost the instance a moment ago: the
      // routes are read again, once, and the upgrade goes where they say.
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      const lookup = this.#lookup;
      const retry =
        again && lookup
          ? () => {
              lookup(path).then(
                (found) => {
                  upgradeTo(request, socket, head, found, false);
                },
                () => {
                  upgradeTo(request, socket, head, undefined, false);
                },
              );
            }
          : undefined;
      proxyUpgrade(request, socket, head, target, view, retry);
    };
    const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      // A WebSocket may stay quiet for long: the idle timeout of requests does not apply.
      if (socket instanceof Socket) socket.setTimeout(0);
      if (!this.#serving) {
        upgradeTo(request, socket, head, undefined);
        return;
      }
      const target = this.#resolve?.(path);
      const lookup = this.#lookup;
      if ((target && !stale(target)) || !lookup) {
        upgradeTo(request, socket, head, target);
        return;
      }
      // Nothing here knows the path, or only at a node that is not up: another node may have
      // made it, or taken it over, a moment ago. The socket's bytes wait in it meanwhile
      // (nothing reads an upgraded socket).
      lookup(path).then(
        (found) => {
          if (!socket.destroyed) upgradeTo(request, socket, head, found);
        },
        () => {
          upgradeTo(request, socket, head, undefined);
        },
      );
    };
    server.on('upgrade', guardUpgrades(upgrade, this.#report));
    this.#servers.push(server);
    return server;
  }

  #listen(server: AnyServer, scheme: string, host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const where = `${host || '*'}:${port}`;
        if (error.code === 'EADDRINUSE') {
          reject(new AppvisorError('PORT_IN_USE', `the ${scheme} port ${where} is already in use`));
        } else if (error.code === 'EACCES') {
          reject(
            new AppvisorError(
              'PORT_IN_USE',
              `no permission to listen on the ${scheme} port ${where} (ports below 1024 need root)`,
            ),
          );
        } else {
          reject(
            new AppvisorError(
              'PORT_IN_USE',
              `cannot listen on the ${scheme} port ${where}: ${error.message}`,
            ),
          );
        }
      };
      server.once('error', onError);
      server.listen({ port, ...(host ? { host } : {}) }, () => {
        server.off('error', onError);
        guardServer(server, this.#report);
        resolve();
      });
    });
  }

  /** Uses a new certificate for every TLS connection made from now on. */
  setCertificate(pair: CertificatePair): void {
    // setSecureContext replaces every TLS option, so the ciphers and versions go again.
    this.#https?.setSecureContext({ ...tlsServerOptions, cert: pair.cert, key: pair.key });
  }

  /** Finds the instance a path belongs to (longest match); undefined: nothing is there. */
  setInstanceResolver(resolve: (path: string) => InstanceTarget | undefined): void {
    this.#resolve = resolve;
  }

  /**
   * Makes this front one of a platform's nodes (docs/cluster.md): `secret` is the platform's
   * peer secret, which makes the forwarding headers of a request another node forwarded
   * trusted; `lookup` is asked for a path the resolver does not know, before the answer is a
   * 404 (it may read the store: it must bound how often).
   */
  setPeers(peers: {
    secret: string;
    lookup: (path: string) => Promise<InstanceTarget | undefined>;
    /** Serves the other nodes' calls under `/.appvisor/peer/` (it checks them itself). */
    api: RequestHandler;
  }): void {
    this.#peerSecret = peers.secret;
    this.#lookup = peers.lookup;
    this.#peerApi = peers.api;
  }

  /**
   * Where the admin UI and API are served (their own listener): the front's `/manager/` and
   * `/` redirect there, to the host name the client used.
   */
  setAdminOrigin(origin: { scheme: 'http' | 'https'; port: number }): void {
    this.#adminOrigin = origin;
  }

  /** Answers `POST /.appvisor/login` (see {@link serveGrantLogin}). */
  setGrantExchange(exchange: GrantExchange): void {
    this.#grantExchange = exchange;
  }

  #adminLocation(request: IncomingMessage, url: string): string | undefined {
    const origin = this.#adminOrigin;
    if (!origin) return undefined;
    const standard =
      (origin.scheme === 'http' && origin.port === 80) ||
      (origin.scheme === 'https' && origin.port === 443);
    // An HTTP/2 request names its host in `:authority`; Host is optional there.
    const host = request.headers.host ?? request.headers[':authority'];
    return `${origin.scheme}://${hostName(host)}${standard ? '' : `:${origin.port}`}${url}`;
  }

  /** Starts routing requests; until then every request is answered 503. */
  async start(): Promise<void> {
    if (!this.#http) await this.bind();
    this.#serving = true;
  }

  /** Addresses the front listens on (actual ports when 0 was configured). */
  addresses(): FrontAddress[] {
    const out: FrontAddress[] = [];
    for (const [scheme, server] of [
      ['http', this.#http],
      ['https', this.#https],
    ] as const) {
      const address = server?.address() as AddressInfo | null | undefined;
      if (address) out.push({ scheme, host: address.address, port: address.port });
    }
    return out;
  }

  /** The request handler of the server for `scheme`. */
  #dispatchFor(scheme: 'http' | 'https'): RequestHandler {
    return (request, response) => {
      this.#dispatch(request, response, scheme);
    };
  }

  #dispatch(request: IncomingMessage, response: ServerResponse, scheme: 'http' | 'https'): void {
    const url = request.url ?? '/';
    if (!this.#serving) {
      sendError(
        response,
        new AppvisorError('STARTING', 'the manager is starting', { retryAfter: retrySeconds }),
      );
      return;
    }
    const path = url.split('?', 1)[0] ?? '/';
    if (this.#peerApi && path.startsWith(peerPrefix)) {
      this.#peerApi(request, response);
      return;
    }
    if (path === grantLoginPath && this.#grantExchange) {
      serveGrantLogin(request, response, this.#grantExchange);
      return;
    }
    if (path === managerPrefix || path.startsWith(`${managerPrefix}/`)) {
      // The admin UI and API live on their own origin: here they are only pointed to.
      const location = this.#adminLocation(request, url);
      if (location) {
        response.writeHead(308, { location, 'content-length': 0 });
        response.end();
        return;
      }
    } else {
      const target = this.#resolve?.(path);
      if (target && !(stale(target) && this.#lookup)) {
        this.#serveInstance(request, response, path, target, scheme);
        return;
      }
      const location = path === '/' ? this.#adminLocation(request, `${managerPrefix}/`) : undefined;
      if (location) {
        response.writeHead(302, { location, 'content-length': 0 });
        response.end();
        return;
      }
      const lookup = this.#lookup;
      if (lookup && path !== '/') {
        // Another node may have made the instance, or taken it over, a moment ago.
        lookup(path).then(
          (found) => {
            if (found) this.#serveInstance(request, response, path, found, scheme);
            else notServed(response, path);
          },
          () => {
            notServed(response, path);
          },
        );
        return;
      }
    }
    notServed(response, path);
  }

  #serveInstance(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    target: InstanceTarget,
    scheme: 'http' | 'https',
    again = true,
  ): void {
    const view = clientOf(request, scheme, this.#peerSecret);
    // A node that refuses the connection may have lost the instance a moment ago: the routes
    // are read again, once, and a request without a body goes where they say.
    const lookup = this.#lookup;
    const retry =
      again && lookup && target.peer
        ? () => {
            lookup(path).then(
              (found) => {
                if (found) this.#serveInstance(request, response, path, found, scheme, false);
                else notServed(response, path);
              },
              () => {
                notServed(response, path);
              },
            );
          }
        : undefined;
    if (target.staticDir && target.path !== undefined && !target.peer) {
      void serveStatic(request, response, target.staticDir, restBelow(path, target.path), {
        base: target.path,
      }).then(
        (served) => {
          if (!served) proxyRequest(request, response, target, view);
        },
        () => {
          proxyRequest(request, response, target, view);
        },
      );
      return;
    }
    proxyRequest(request, response, target, view, retry);
  }

  readonly close = once(async () => {
    this.#serving = false;
    const grace = this.#options.closeGraceMs ?? 5_000;
    // HTTP/2 clients are told (GOAWAY) to open no more streams; those in flight may finish.
    for (const session of this.#sessions) session.close();
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) {
              resolve();
              return;
            }
            const timer = setTimeout(() => {
              this.#cut(server);
            }, grace);
            server.close(() => {
              clearTimeout(timer);
              resolve();
            });
            (server as Server).closeIdleConnections();
          }),
      ),
    );
  });

  /** Ends every connection of `server` at once, in flight or not. */
  #cut(server: AnyServer): void {
    if (server === this.#https) for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets.get(server) ?? []) socket.destroy();
  }

  destroy(): void {
    this.#serving = false;
    for (const server of this.#servers) {
      this.#cut(server);
      server.close();
    }
  }
}

/** 404 NOT_FOUND: no instance (of any node) has this path. */
function notServed(response: ServerResponse, path: string): void {
  sendError(response, new AppvisorError('NOT_FOUND', `nothing is served at ${path}`));
}

/**
 * Whether a target is an instance of another node that is not up: its routes may be older
 * than a takeover, so they are read again before the visitor is told to come back later.
 */
function stale(target: InstanceTarget): boolean {
  return target.peer !== undefined && !target.peer.up;
}
