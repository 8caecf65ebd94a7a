import { request as httpRequest, type IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest, type RequestOptions as HttpsOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';

/** An error answered by the manager, or the failure to reach it. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * How the CLI reaches the manager: its local socket, or a URL with a token and, for https, a
 * PEM file of certificates trusted besides the system's (`ca`: a self-signed manager's own).
 */
export type Target = { socket: string } | { url: string; token?: string; ca?: string };

const apiPrefix = '/manager/api/v1';

/** A request body: JSON, or a stream of bytes with its content type (and length, when known). */
type Body = { json: unknown } | { stream: Readable; type: string; length?: number };

/**
 * Certificate verification failures of OpenSSL and Node: the manager's certificate is not
 * trusted (self-signed, unknown issuer, expired, or for another name).
 */
const untrustedCodes =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|ERR_TLS_CERT_ALTNAME_INVALID)/;

/** The system's roots and the certificates of `file`; refused when it holds none. */
async function trustedWith(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError('TLS_UNTRUSTED', `cannot read the --ca file ${file}: ${code}`);
  });
  const pems = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0)
    throw new CliError('TLS_UNTRUSTED', `the --ca file ${file} holds no PEM certificate`);
  return [...rootCertificates, ...pems];
}

async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A thin client of the admin REST API. Over `manager.sock` no login is needed (the socket is
 * owner-only); over a URL the bearer token is sent.
 */
export class ApiClient {
  readonly #target: Target;
  #trusted: Promise<string[]> | undefined;

  constructor(target: Target) {
    this.#target = target;
  }

  /** Whether it talks to the manager over its local socket (root's; no password asked). */
  get local(): boolean {
    return 'socket' in this.#target;
  }

  /**
   * Sends a request and returns the response once its head arrived; errors become CliError.
   * `extra` headers go along (a download's Range).
   */
  async request(
    method: string,
    path: string,
    body?: Body,
    extra: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = { accept: 'application/json', ...extra };
    let payload: Buffer | undefined;
    if (body && 'json' in body) {
      payload = Buffer.from(JSON.stringify(body.json));
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    } else if (body) {
      headers['content-type'] = body.type;
      if (body.length !== undefined) headers['content-length'] = String(body.length);
    }
    let options: HttpsOptions;
    let send = httpRequest;
    let where: string;
    if ('socket' in this.#target) {
      options = { socketPath: this.#target.socket, path: `${apiPrefix}${path}`, method, headers };
      where = this.#target.socket;
    } else {
      const url = new URL(`${apiPrefix}${path}`, this.#target.url);
      if (this.#target.token) headers.authorization = `Bearer ${this.#target.token}`;
      options = {
        method,
        headers,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: `${url.pathname}${url.search}`,
      };
      if (url.protocol === 'https:') {
        send = httpsRequest;
        const ca = this.#target.ca;
        if (ca !== undefined) options.ca = await (this.#trusted ??= trustedWith(ca));
      }
      where = url.origin;
    }
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(options, resolve);
      req.once('error', reject);
      if (body && 'stream' in body) {
        body.stream.once('error', (error) => req.destroy(error));
        body.stream.pipe(req);
      } else {
        req.end(payload);
      }
    }).catch((error: unknown) => {
      if (error instanceof CliError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (
        code === 'ECONNREFUSED' ||
        code === 'ENOENT' ||
        code === 'EHOSTUNREACH' ||
        code === 'ECONNRESET'
      ) {
        throw new CliError('MANAGER_UNREACHABLE', `no manager answers at ${where} (${code})`);
      }
      if (code !== undefined && untrustedCodes.test(code)) {
        const hint =
          'ca' in this.#target && this.#target.ca !== undefined
            ? `it is not signed by a certificate of ${this.#target.ca}`
            : "trust it with --ca FILE (for a self-signed manager: 'appvisor cert show --pem' on its machine)";
        throw new CliError(
          'TLS_UNTRUSTED',
          `the certificate of ${where} is not trusted (${(error as Error).message}): ${hint}`,
        );
      }
      throw error;
    });
    const status = response.statusCode ?? 500;
    if (status >= 400) {
      const text = await readText(response);
      let parsed: { code?: string; message?: string } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        // not JSON: the status says it
      }
      throw new CliError(parsed.code ?? 'INTERNAL', parsed.message ?? `HTTP ${status}`);
    }
    return response;
  }

  /** Sends one request with an optional JSON body and returns the parsed JSON answer. */
  async call<T>(method: string, path: string, json?: unknown): Promise<T> {
    return this.#parse<T>(
      await this.request(method, path, json === undefined ? undefined : { json }),
    );
  }

  /**
   * Streams bytes as the body (a package upload; `PUT` an archive) and returns the parsed JSON
   * answer.
   */
  async upload<T>(
    path: string,
    stream: Readable,
    type: string,
    options: { method?: 'POST' | 'PUT'; length?: number } = {},
  ): Promise<T> {
    const { method = 'POST', length } = options;
    return this.#parse<T>(
      await this.request(method, path, {
        stream,
        type,
        ...(length === undefined ? {} : { length }),
      }),
    );
  }

  async #parse<T>(response: IncomingMessage): Promise<T> {
    const text = await readText(response);
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new CliError(
        'INTERNAL',
        `the manager answered ${response.statusCode ?? '?'} with no JSON`,
      );
    }
  }
}
