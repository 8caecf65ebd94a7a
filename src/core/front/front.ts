import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import { TLSSocket } from 'node:tls';
import { Socket, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { AppvisorError } from '../errors/index.js';
import { tlsServerOptions, type CertificatePair } from '../tls/index.js';
import { handOff, proxyRequest, proxyUpgrade, type InstanceTarget } from './proxy.js';
import { serveStatic } from './static-files.js';

/** Handles one HTTP request (Node's signature; any framework's handler fits). */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** Where the front listens. */
export interface FrontOptions {
  http: { host: string; port: number };
  https: { enabled: boolean; host: string; port: number };
  logger: Logger;
  /** Time a client has to send the request head. */
  headersTimeoutMs?: number;
  /** Open connections one client address may hold (0: no limit). */
  maxConnectionsPerClient?: number;
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

function sendJson(
  response: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/**
 * The one HTTP/HTTPS front of the platform. It binds its ports first thing at start (so a
 * taken port fails before anything else is made), answers 503 until the manager is ready,
 * then routes `/manager` to the admin handler. TLS certificates can be swapped at any time
 * and apply to new connections.
 */
export class Front implements Component {
  readonly name = 'front';
  readonly #options: FrontOptions;
  readonly #servers: (Server | HttpsServer)[] = [];
  #http: Server | undefined;
  #https: HttpsServer | undefined;
  #managerHandler: RequestHandler | undefined;
  #resolve: ((path: string) => InstanceTarget | undefined) | undefined;
  #serving = false;
  /** Open connections by client address, for the per-client limit. */
  readonly #perClient = new Map<string, number>();

  constructor(options: FrontOptions) {
    this.#options = options;
  }

  /** Listens on the configured ports. Throws PORT_IN_USE naming the port. */
  async bind(): Promise<void> {
    const { http, https } = this.#options;
    this.#http = this.#setup(createHttpServer({ maxHeaderSize: 16 * 1024 }, this.#dispatch));
    await this.#listen(this.#http, 'http', http.host, http.port);
    if (https.enabled) {
      this.#https = this.#setup(
        createHttpsServer({ maxHeaderSize: 16 * 1024, ...tlsServerOptions }, this.#dispatch),
      );
      await this.#listen(this.#https, 'https', https.host, https.port);
    }
  }

  #setup<T extends Server | HttpsServer>(server: T): T {
    server.headersTimeout = this.#options.headersTimeoutMs ?? 20_000;
    server.keepAliveTimeout = this.#options.keepAliveTimeoutMs ?? 5_000;
    // Uploads of packages and backups may take long; the head timeout guards slow clients.
    server.requestTimeout = 0;
    const limit = this.#options.maxConnectionsPerClient ?? 0;
    if (limit > 0) {
      server.on('connection', (socket: Socket) => {
        const address = socket.remoteAddress ?? '';
        const open = (this.#perClient.get(address) ?? 0) + 1;
        if (open > limit) {
          socket.destroy();
          return;
        }
        this.#perClient.set(address, open);
        socket.once('close', () => {
          const left = (this.#perClient.get(address) ?? 1) - 1;
          if (left <= 0) this.#perClient.delete(address);
          else this.#perClient.set(address, left);
        });
      });
    }
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (socket.writable && error.code !== 'ECONNRESET') {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else {
        socket.destroy();
      }
    });
    const scheme = server instanceof HttpsServer ? 'https' : 'http';
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      const target = this.#serving ? this.#resolve?.(path) : undefined;
      if (!target) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      if (
        scheme === 'http' &&
        target.ready &&
        socket instanceof Socket &&
        handOff(request, socket, head, target)
      ) {
        return;
      }
      proxyUpgrade(request, socket, head, target, scheme);
    });
    this.#servers.push(server);
    return server;
  }

  #listen(server: Server | HttpsServer, scheme: string, host: string, port: number): Promise<void> {
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

  /** The handler of `/manager` (the admin UI and API). */
  setManagerHandler(handler: RequestHandler): void {
    this.#managerHandler = handler;
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

  readonly #dispatch = (request: IncomingMessage, response: ServerResponse): void => {
    const url = request.url ?? '/';
    if (!this.#serving) {
      sendJson(
        response,
        503,
        { code: 'STARTING', message: 'the manager is starting' },
        { 'retry-after': '2' },
      );
      return;
    }
    const path = url.split('?', 1)[0] ?? '/';
    if (path === managerPrefix || path.startsWith(`${managerPrefix}/`)) {
      if (this.#managerHandler) {
        this.#managerHandler(request, response);
        return;
      }
    } else {
      const target = this.#resolve?.(path);
      if (target) {
        const scheme = request.socket instanceof TLSSocket ? 'https' : 'http';
        if (target.staticDir && target.path !== undefined) {
          void serveStatic(
            request,
            response,
            target.staticDir,
            path.slice(target.path.length),
          ).then(
            (served) => {
              if (!served) proxyRequest(request, response, target, scheme);
            },
            () => {
              proxyRequest(request, response, target, scheme);
            },
          );
          return;
        }
        proxyRequest(request, response, target, scheme);
        return;
      }
      if (path === '/') {
        response.writeHead(302, { location: `${managerPrefix}/`, 'content-length': 0 });
        response.end();
        return;
      }
    }
    sendJson(response, 404, { code: 'NOT_FOUND', message: `nothing is served at ${path}` });
  };

  readonly close = once(async () => {
    this.#serving = false;
    const grace = this.#options.closeGraceMs ?? 5_000;
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) {
              resolve();
              return;
            }
            const timer = setTimeout(() => {
              server.closeAllConnections();
            }, grace);
            server.close(() => {
              clearTimeout(timer);
              resolve();
            });
            server.closeIdleConnections();
          }),
      ),
    );
  });

  destroy(): void {
    this.#serving = false;
    for (const server of this.#servers) {
      server.closeAllConnections();
      server.close();
    }
  }
}
