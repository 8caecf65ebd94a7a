/**
 * An AppWebsocket client for tests: queues what it receives, and logs in the way a PBX does,
 * computing the digest itself (from node:crypto, independently of the code under test).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { WebSocket, type ClientOptions } from 'ws';

/**
 * SHA-256 as innovaphone's JavaScript client computes it: its `Utf8Encode` turns every CR LF
 * into LF before hashing.
 */
const sha256 = (text: string) =>
  createHash('sha256').update(text.replace(/\r\n/g, '\n'), 'utf8').digest('hex');

/** A client that queues what it receives. */
export class Client {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: Record<string, unknown>[] = [];
  readonly #waiting: ((message: Record<string, unknown>) => void)[] = [];

  /** `options` go to ws (e.g. headers); certificates are not checked. */
  constructor(url: string, options: ClientOptions = {}) {
    this.ws = new WebSocket(url, { rejectUnauthorized: false, ...options });
    this.ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      const waiter = this.#waiting.shift();
      if (waiter) waiter(message);
      else this.#queue.push(message);
    });
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  async open(): Promise<this> {
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    return this;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  next(timeoutMs = 2_000): Promise<Record<string, unknown>> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('no message'));
      }, timeoutMs);
      this.#waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }

  async challenge(): Promise<string> {
    this.send({ mt: 'AppChallenge', src: 'c' });
    const answer = await this.next();
    assert.equal(answer.mt, 'AppChallengeResult');
    assert.equal(answer.src, 'c');
    return answer.challenge as string;
  }

  /** Logs in with `password` and the given fields; resolves with AppLoginResult. */
  async login(
    password: string,
    fields: Record<string, unknown> = {},
    challenge?: string,
  ): Promise<Record<string, unknown>> {
    const c = challenge ?? (await this.challenge());
    const login: Record<string, unknown> = {
      app: 'myapp',
      domain: 'pbx.example',
      sip: 'alice',
      guid: 'g1',
      dn: 'Alice',
      ...fields,
    };
    const info = login.info === undefined ? '' : `:${JSON.stringify(login.info)}`;
    const digest = sha256(
      `${String(login.app)}:${String(login.domain)}:${String(login.sip)}:${String(login.guid)}:${String(login.dn)}${info}:${c}:${password}`,
    );
    this.send({ mt: 'AppLogin', pbxObj: 'obj-1', digest, ...login, src: 'l' });
    return this.next();
  }
}

/** Opens a connection (ws:, wss: with any certificate). */
export async function connect(url: string): Promise<Client> {
  return new Client(url).open();
}
