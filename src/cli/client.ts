import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** An error answered by the manager, or the failure to reach it. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** How the CLI reaches the manager: its local socket, or a URL with a token. */
export type Target = { socket: string } | { url: string; token?: string };

const apiPrefix = '/manager/api/v1';

/**
 * A thin client of the admin REST API. Over `manager.sock` no login is needed (the socket is
 * owner-only); over a URL the bearer token is sent.
 */
export class ApiClient {
  readonly #target: Target;

  constructor(target: Target) {
    this.#target = target;
  }

  /** Sends one request and returns the parsed JSON answer; throws CliError for an error answer. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    let options: RequestOptions;
    let send = httpRequest;
    let where: string;
    if ('socket' in this.#target) {
      options = { socketPath: this.#target.socket, path: `${apiPrefix}${path}`, method, headers };
      where = this.#target.socket;
    } else {
      const url = new URL(`${apiPrefix}${path}`, this.#target.url);
      if (this.#target.token) headers.authorization = `Bearer ${this.#target.token}`;
      options = { method, headers };
      options.hostname = url.hostname.replace(/^\[|\]$/g, '');
      options.port = url.port;
      options.path = `${url.pathname}${url.search}`;
      if (url.protocol === 'https:') send = httpsRequest;
      where = url.origin;
    }
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(options, resolve);
      req.setTimeout(60_000, () => req.destroy(new Error('timed out')));
      req.once('error', reject);
      req.end(payload);
    }).catch((error: unknown) => {
      throw new CliError(
        'MANAGER_UNREACHABLE',
        `no manager answers at ${where} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    });
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new CliError('INTERNAL', `the manager answered ${response.statusCode} with no JSON`);
    }
    const status = response.statusCode ?? 500;
    if (status >= 400) {
      const { code, message } = parsed as { code?: string; message?: string };
      throw new CliError(code ?? 'INTERNAL', message ?? `HTTP ${status}`);
    }
    return parsed as T;
  }
}
