import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { AppvisorError } from '../errors/index.js';

/** A `host:port` to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Whether a host is a loopback address (127.0.0.0/8, ::1) or `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Parses `monitor.metricsListen` (`127.0.0.1:9464`, `[::1]:9464`). A non-loopback host is
 * refused unless `allowRemote`: the listener answers without authentication, so anyone who can
 * reach the address can read the metrics (app names, instance names, load).
 */
export function parseListen(text: string, allowRemote: boolean): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !(port >= 0 && port <= 65535)) {
    throw new AppvisorError(
      'CONFIG_INVALID',
      `monitor.metricsListen: "${text}" is not host:port (e.g. 127.0.0.1:9464)`,
    );
  }
  if (!allowRemote && !isLoopback(host)) {
    throw new AppvisorError(
      'CONFIG_INVALID',
      `monitor.metricsListen: ${host} is not a loopback address; the metrics listener has no authentication (set monitor.metricsAllowRemote to allow it)`,
    );
  }
  return { host, port };
}

/** Options of {@link MetricsServer}. */
export interface MetricsServerOptions {
  listen: ListenAddress;
  /** The exposition text and its content type. */
  render: () => Promise<string>;
  contentType: string;
  logger?: Logger;
}

/**
 * A tiny HTTP server answering only `GET /metrics`, without authentication, on a local
 * address for a Prometheus scraper on the same machine.
 */
export class MetricsServer implements Component {
  readonly name = 'metrics-listener';
  readonly #options: MetricsServerOptions;
  #server: Server | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
  }

  /** The address it listens on once started (the real port when 0 was asked). */
  address(): ListenAddress | undefined {
    const address = this.#server?.address();
    if (!address || typeof address === 'string') return undefined;
    return { host: address.address, port: address.port };
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
        return;
      }
      this.#options.render().then(
        (text) => {
          response.writeHead(200, { 'content-type': this.#options.contentType });
          response.end(request.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => {
          this.#options.logger?.warn({ err: error }, 'metrics: rendering failed');
          response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
    });
    server.requestTimeout = 10_000;
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'EADDRINUSE'
            ? new AppvisorError('PORT_IN_USE', `the metrics port ${host}:${port} is already in use`)
            : new AppvisorError(
                'CONFIG_INVALID',
                `monitor.metricsListen: cannot listen on ${host}:${port}: ${error.message}`,
              ),
        );
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.#server = server;
  }

  close(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    return (this.#closing ??= new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    }));
  }

  destroy(): void {
    this.#server?.closeAllConnections();
    this.#server?.close();
  }
}
