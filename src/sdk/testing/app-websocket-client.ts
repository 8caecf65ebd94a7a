/**
 * An AppWebsocket client for tests: queues the JSON messages it receives, and logs in the way a
 * PBX App object does, computing the digest itself (from node:crypto, independently of the
 * SDK's own login code, so a test of that code can fail).
 */
import { createHash } from 'node:crypto';
import { WebSocket, type ClientOptions } from 'ws';

/** A JSON message as received: an object with any fields (`mt` names AppWebsocket messages). */
export type ReceivedMessage = Record<string, unknown>;

/** Default time {@link AppWebsocketClient.next} waits for a message. */
export const nextTimeoutMs = 5_000;

/**
 * SHA-256 as innovaphone's JavaScript client computes it: its `Utf8Encode` turns every CR LF
 * into LF before hashing.
 */
const sha256 = (text: string) =>
  createHash('sha256').update(text.replace(/\r\n/g, '\n'), 'utf8').digest('hex');

/**
 * What a PBX sends in AppLogin besides the digest: `app`, `domain`, `sip`, `guid`, `dn` (strings;
 * the defaults name a made-up PBX user) and `info` (hashed as its JSON text). Any value is
 * accepted, so a test can send what a broken or hostile client would.
 */
export type LoginFields = Record<string, unknown>;

/** A WebSocket client that queues what it receives; see the file's header. */
export class AppWebsocketClient {
  /** The underlying socket (ws), for what this class does not wrap. */
  readonly ws: WebSocket;
  /** Resolves with the close code and reason once the connection has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: ReceivedMessage[] = [];
  readonly #waiting: ((message: ReceivedMessage) => void)[] = [];

  /** Connects to `url` (ws:, wss: with any certificate, or ws+unix:). Use {@link open} to wait. */
  constructor(url: string, options: ClientOptions = {}) {
    this.ws = new WebSocket(url, { rejectUnauthorized: false, ...options });
    // A failed connection rejects open() and resolves `closed`; unheard, its 'error' would throw.
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer) => {
      let message: ReceivedMessage;
      try {
        message = JSON.parse(data.toString()) as ReceivedMessage;
      } catch {
        message = { text: data.toString() };
      }
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

  /** Resolves once the connection is open; rejects when it cannot be made. */
  async open(): Promise<this> {
    if (this.ws.readyState === WebSocket.OPEN) return this;
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    return this;
  }

  /** Sends a string as it is, anything else as JSON. */
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message received (queued ones first); rejects after `timeoutMs`. */
  next(timeoutMs = nextTimeoutMs): Promise<ReceivedMessage> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (message: ReceivedMessage) => {
        clearTimeout(timer);
        resolve(message);
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.push(waiter);
    });
  }

  /** Asks for a login challenge (AppChallenge) and returns it. */
  async challenge(): Promise<string> {
    this.send({ mt: 'AppChallenge', src: 'c' });
    const answer = await this.next();
    if (answer.mt !== 'AppChallengeResult' || typeof answer.challenge !== 'string') {
      throw new Error(`expected AppChallengeResult, received ${JSON.stringify(answer)}`);
    }
    return answer.challenge;
  }

  /**
   * Logs in with the instance `password` and the given fields, as a PBX App object would;
   * resolves with the answer (AppLoginResult: `ok`, or `error`). A challenge is asked for
   * unless given.
   */
  async login(
    password: string,
    fields: LoginFields = {},
    challenge?: string,
  ): Promise<ReceivedMessage> {
    const c = challenge ?? (await this.challenge());
    const login: LoginFields = {
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

  /** Closes the connection and waits until it has closed. */
  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

/** Opens an AppWebsocket client connection to `url` (ws:, wss: with any certificate). */
export async function connectAppWebsocket(
  url: string,
  options: ClientOptions = {},
): Promise<AppWebsocketClient> {
  return new AppWebsocketClient(url, options).open();
}
