import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { guardRequests, guardServer, type GuardReport } from '../../lib/server-guard.js';
import { AppvisorError, httpErrorOf, sendError } from '../errors/index.js';
import { tlsServerOptions, type CertificatePair } from '../tls/index.js';
import type { FrontAddress, RequestHandler } from './front.js';

/** Options of {@link AdminListener}. */
export interface AdminListenerOptions {
  host: string;
  port: number;
  /** HTTPS with the platform's certificate (the default), or plain HTTP. */
  tls: boolean;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Connections held at once; more are closed as they arrive (0: no cap). */
  maxConnections?: number;
  closeGraceMs?: number;
  /** Where errors that escaped a request go (they are never fatal). */
  logger?: Logger;
}

const managerPrefix = '/manager';

/**
 * The admin UI and API on an origin of their own: a listener that serves nothing but
 * `/manager/`. No app's page is ever served on this origin, so an app's script cannot read the
 * API with the admin's cookie (the same-origin policy keeps it out), cannot register a service
 * worker over the admin UI, and its response headers never apply here. The front's `/manager/`
 * only redirects to it.
 */
export class AdminListener implements Component {
  readonly name = 'admin listener';
  readonly #options: AdminListenerOptions;
  #server: Server | HttpsServer | undefined;
  #handler: RequestHandler | undefined;

  constructor(options: AdminListenerOptions) {
    this.#options = options;
  }

  /** Listens on the configured address. Throws PORT_IN_USE naming the port. */
  async bind(): Promise<void> {
    const { host, port, tls } = this.#options;
    const handle: RequestHandler = (request, response) => {
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      if (this.#handler && (path === managerPrefix || path.startsWith(`${managerPrefix}/`))) {
        this.#handler(request, response);
        return;
      }
      if (path === '/') {
        response.writeHead(302, { location: `${managerPrefix}/`, 'content-length': 0 });
        response.end();
        return;
      }
      sendError(
        response,
        this.#handler
          ? new AppvisorError('NOT_FOUND', `nothing is served at ${path}`)
          : new AppvisorError('STARTING', 'the manager is starting'),
      );
    };
    const report: GuardReport = (error, where) => {
      this.#options.logger?.error({ err: error, where }, 'admin listener: an error escaped');
    };
    const guarded = guardRequests(handle, report, httpErrorOf(new AppvisorError('INTERNAL')));
    const server = tls
      ? // The certificate comes with setCertificate once the data folder is read.
        createHttpsServer({ maxHeaderSize: 16 * 1024, ...tlsServerOptions }, guarded)
      : createHttpServer({ maxHeaderSize: 16 * 1024 }, guarded);
    server.headersTimeout = this.#options.headersTimeoutMs ?? 20_000;
    server.keepAliveTimeout = this.#options.keepAliveTimeoutMs ?? 5_000;
    if (this.#options.maxConnections) server.maxConnections = this.#options.maxConnections;
    server.on('clientError', (_error, socket) => {
      if (socket.writable) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else {
        socket.destroy();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const where = `${host || '*'}:${port}`;
        reject(
          new AppvisorError(
            'PORT_IN_USE',
            error.code === 'EADDRINUSE'
              ? `the admin port ${where} is already in use`
              : `cannot listen on the admin port ${where}: ${error.message}`,
          ),
        );
      });
      server.listen({ port, ...(host ? { host } : {}) }, () => {
        server.removeAllListeners('error');
        guardServer(server, report);
        resolve();
      });
    });
    this.#server = server;
  }

  /** Serves the admin UI and API from now on (until then: 503). */
  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Uses a new certificate for every TLS connection made from now on. */
  setCertificate(pair: CertificatePair): void {
    if (this.#options.tls && this.#server && 'setSecureContext' in this.#server) {
      // Node resets ciphers and versions to its defaults on a swap: they are given again.
      this.#server.setSecureContext({ ...tlsServerOptions, cert: pair.cert, key: pair.key });
    }
  }

  /** Where it listens (the actual port when 0 was configured). */
  address(): FrontAddress | undefined {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    if (!address) return undefined;
    return {
      scheme: this.#options.tls ? 'https' : 'http',
      host: address.address,
      port: address.port,
    };
  }

  async start(): Promise<void> {
    if (!this.#server) await this.bind();
  }

  readonly close = once(async () => {
    const server = this.#server;
    if (!server?.listening) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.closeAllConnections();
      }, this.#options.closeGraceMs ?? 5_000);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
  });

  destroy(): void {
    this.#server?.closeAllConnections();
    this.#server?.close();
  }
}
