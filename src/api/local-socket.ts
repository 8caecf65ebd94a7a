import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { once, type Component } from '../lib/lifecycle.js';
import { AppvisorError } from '../core/errors/index.js';
import { trustSocket } from './auth.js';
import type { Api } from './server.js';

/** Resolves true when something accepts connections on the socket path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * The admin API on `<data>/manager.sock` (mode 0600). Its peers are trusted as the admin:
 * only root and the manager's own user can open it. A socket file left by a manager that
 * died is removed.
 */
export class LocalSocketServer implements Component {
  readonly name = 'manager.sock';
  readonly #path: string;
  readonly #api: Api;
  #server: Server | undefined;

  constructor(path: string, api: Api) {
    this.#path = path;
    this.#api = api;
  }

  async start(): Promise<void> {
    if (await answers(this.#path)) {
      throw new AppvisorError('ALREADY_RUNNING', `another manager answers on ${this.#path}`);
    }
    await unlink(this.#path).catch(() => undefined);
    const server = createServer(this.#api.handler);
    server.on('connection', trustSocket);
    server.keepAliveTimeout = 5_000;
    // The umask may leave the socket open to others for a moment: listen, then tighten.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.#path, 0o600);
    this.#server = server;
  }

  readonly close = once(async () => {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeIdleConnections();
      setTimeout(() => {
        server.closeAllConnections();
      }, 2_000).unref();
    });
    await unlink(this.#path).catch(() => undefined);
  });

  destroy(): void {
    this.#server?.closeAllConnections();
    this.#server?.close();
  }
}
