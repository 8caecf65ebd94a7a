import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { chmod, mkdtemp, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once, type Component } from '../lib/lifecycle.js';
import { AppvisorError } from '../core/errors/index.js';
import {
  answerAndClose,
  guardRequests,
  guardServer,
  type GuardReport,
} from '../lib/server-guard.js';
import { trustSocket } from './auth.js';
import { toErrorBody } from './errors.js';
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
 * Requests that carry the front's forwarding header were relayed by the front on a visitor's
 * behalf: whatever way they found here, they are not the local admin's.
 */
function refuseForwarded(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    if (request.headers['x-appvisor-instance'] === undefined) {
      handler(request, response);
      return;
    }
    const { status, body } = toErrorBody(
      new AppvisorError(
        'FORBIDDEN',
        'requests relayed by the front are not taken on the admin socket',
      ),
    );
    answerAndClose(response, status, body);
  };
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
    const report: GuardReport = (error, where) => {
      this.#api.app.log.error({ err: error, where }, 'manager.sock: an error escaped');
    };
    const failure = toErrorBody(new AppvisorError('INTERNAL'));
    const server = createServer(guardRequests(refuseForwarded(this.#api.handler), report, failure));
    server.on('connection', trustSocket);
    server.keepAliveTimeout = 5_000;
    // Bound with the umask's mode, the socket would be open to others for a moment, and every
    // peer is trusted as the admin: it is bound in a folder only the manager can enter,
    // tightened, then moved into place.
    const folder = await mkdtemp(join(dirname(this.#path), '.manager-sock-'));
    const staged = join(folder, 's');
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(staged, () => {
          server.off('error', reject);
          resolve();
        });
      });
      guardServer(server, report);
      await chmod(staged, 0o600);
      await rename(staged, this.#path);
    } catch (error) {
      server.close();
      throw error;
    } finally {
      await unlink(staged).catch(() => undefined);
      await rmdir(folder).catch(() => undefined);
    }
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
