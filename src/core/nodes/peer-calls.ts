import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { AppvisorError } from '../errors/index.js';

/**
 * Where a node's front takes the admin API calls of the other nodes: only signed ones
 * ({@link PeerCallSigner}), handed to this node's own API as the machine's admin would call it.
 */
export const peerApiPrefix = '/.appvisor/peer/api/v1';

/**
 * Set by the receiving node on a call another node passed on, when it hands it to its own API:
 * the API answers such a call itself and never passes it on again, so that two nodes that
 * disagree for a moment about an owner cannot send a call back and forth.
 */
export const passedOnHeader = 'x-appvisor-passed-on';

/** The header carrying a call's signature: `<unix ms>.<nonce>.<hmac>`. */
export const peerCallHeader = 'x-appvisor-peer-call';

/** How far a call's time may be from the receiver's clock (the nodes' clocks run NTP). */
const maxSkewMs = 60_000;

/**
 * The key of the calls between nodes, derived from the platform's secret key. It is not the
 * front's forwarding secret (that one travels in every forwarded request); this one never
 * travels: each call carries an HMAC of its method, path, time and a nonce.
 */
function callKey(secretKey: Buffer): Buffer {
  return createHmac('sha256', secretKey).update('appvisor node-to-node api 1').digest();
}

function signatureOf(key: Buffer, method: string, path: string, at: string, nonce: string): string {
  return createHmac('sha256', key).update(`${method}\n${path}\n${at}\n${nonce}`).digest('hex');
}

/** Signs and verifies the admin API calls between the nodes of one platform. */
export class PeerCallSigner {
  readonly #key: Buffer;
  /** Nonces seen within the skew window, so that a recorded call cannot be played again. */
  readonly #seen = new Map<string, number>();
  readonly #now: () => number;

  constructor(secretKey: Buffer, now: () => number = Date.now) {
    this.#key = callKey(secretKey);
    this.#now = now;
  }

  /** The signature header of a call. */
  sign(method: string, path: string): string {
    const at = String(this.#now());
    const nonce = randomBytes(16).toString('hex');
    return `${at}.${nonce}.${signatureOf(this.#key, method, path, at, nonce)}`;
  }

  /** Whether a call's header is a signature of this method and path, fresh and never seen. */
  verify(method: string, path: string, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const match = /^(\d{1,15})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(header);
    if (!match) return false;
    const [, at, nonce, given] = match as unknown as [string, string, string, string];
    const now = this.#now();
    if (Math.abs(now - Number(at)) > maxSkewMs) return false;
    const expected = signatureOf(this.#key, method, path, at, nonce);
    if (!timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return false;
    this.#prune(now);
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, Number(at) + maxSkewMs);
    return true;
  }

  #prune(now: number): void {
    if (this.#seen.size < 1024) return;
    for (const [nonce, until] of this.#seen) if (until < now) this.#seen.delete(nonce);
  }
}

/** A node's answer to a call: its status and JSON body. */
export interface PeerAnswer {
  status: number;
  body: unknown;
}

/** At most this much of an answer is read (the calls are small JSON documents). */
const maxAnswerBytes = 16 * 1024 * 1024;

/**
 * Calls another node's admin API through its front (`host:port`, HTTP): `path` is an API path
 * (`/instances/x`). Rejects with `NODE_UNREACHABLE` when the node does not answer.
 */
export function callPeer(
  signer: PeerCallSigner,
  at: { node: string; host: string; port: number },
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<PeerAnswer> {
  const full = `${peerApiPrefix}${path}`;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const unreachable = (why: string) =>
      new AppvisorError('NODE_UNREACHABLE', `node ${at.node} (${at.host}:${at.port}) ${why}`);
    const call = request(
      {
        host: at.host,
        port: at.port,
        method,
        path: full,
        agent: false,
        timeout: timeoutMs,
        headers: {
          [peerCallHeader]: signer.sign(method, full),
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {}),
        },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAnswerBytes) answer.destroy(unreachable('answered too much'));
          else chunks.push(chunk);
        });
        answer.on('error', (error) => {
          reject(
            error instanceof AppvisorError ? error : unreachable(`broke off: ${error.message}`),
          );
        });
        answer.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({
              status: answer.statusCode ?? 502,
              body: text === '' ? {} : JSON.parse(text),
            });
          } catch {
            reject(unreachable(`answered ${answer.statusCode ?? '?'} without JSON`));
          }
        });
      },
    );
    call.on('timeout', () => call.destroy(new Error('no answer in time')));
    call.on('error', (error) => {
      reject(unreachable(`does not answer: ${error.message}`));
    });
    call.end(payload);
  });
}

/**
 * Serves the calls of other nodes (requests under {@link peerApiPrefix} on this node's front):
 * a call whose signature holds goes to this node's own API over `manager.sock`, where the
 * machine's admin is trusted; any other is answered 404, as if nothing were there.
 */
export function peerApiHandler(
  signer: PeerCallSigner,
  api: { socket: string; prefix: string },
): (incoming: IncomingMessage, response: ServerResponse) => void {
  return (incoming, response) => {
    const url = incoming.url ?? '/';
    const method = incoming.method ?? 'GET';
    if (
      !url.startsWith(`${peerApiPrefix}/`) ||
      !signer.verify(method, url, incoming.headers[peerCallHeader])
    ) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ code: 'NOT_FOUND', message: `nothing is served at ${url.split('?')[0]}` }),
      );
      return;
    }
    const headers: Record<string, string> = { [passedOnHeader]: '1' };
    for (const name of ['content-type', 'content-length', 'accept']) {
      const value = incoming.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = request(
      {
        socketPath: api.socket,
        method,
        path: `${api.prefix}${url.slice(peerApiPrefix.length)}`,
        headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, {
          'content-type': answer.headers['content-type'] ?? 'application/json',
        });
        answer.pipe(response);
      },
    );
    upstream.on('error', () => {
      if (!response.headersSent) {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ code: 'STARTING', message: 'the node API is not ready' }));
      } else {
        response.destroy();
      }
    });
    incoming.pipe(upstream);
  };
}
