import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import {
  digestMatches,
  loginDigest,
  newChallenge,
  sessionDecrypt,
  sessionEncrypt,
  sessionHash,
  sessionKeyOf,
} from '../lib/app-login.js';
import { asAppRequest, type AppRequest } from './http.js';
import type { Instance } from './instance.js';
import { traceFlag, type Tracer } from './trace.js';

/** One AppWebsocket message: a JSON object with its type in `mt`. */
export interface AppMessage {
  mt: string;
  /** Chosen by the sender; echoed in answers (see {@link AppSession.send}). */
  src?: unknown;
  [field: string]: unknown;
}

/** Who logged in: the fields of the AppLogin message (missing ones are empty strings). */
export interface AppLoginInfo {
  app: string;
  domain: string;
  sip: string;
  guid: string;
  dn: string;
  /** The login's `info` object, when it had one. */
  info: Record<string, unknown> | undefined;
  pbxObj: string;
}

/** What a PBX tells about itself after it logged in (`PbxInfo`). */
export interface PbxInfo {
  domain: string;
  pbx: string;
  pbxDns: string;
  apis: unknown[];
}

/** Default time a connection has to log in before it is closed. */
export const loginTimeoutMs = 30_000;
/** Failed logins after which the connection is closed. */
export const maxFailedLogins = 3;
/** Largest frame accepted before the login (an AppLogin is far smaller). */
export const maxLoginFrameBytes = 64 * 1024;

const flag = traceFlag.appWebsocket;

/**
 * Traces a frame under `app-websocket`: its direction, `mt` and size. Never its content:
 * AppWebsocket messages carry the login's digest, values encrypted with the session key, and
 * whatever the app exchanges, so the SDK cannot know a frame is safe to show.
 */
function traceFrame(
  tracer: Tracer | undefined,
  direction: 'in' | 'out',
  mt: string,
  bytes: number,
) {
  if (tracer?.traceFlags.has(flag)) tracer.trace(flag, `${direction} ${mt} ${bytes} B`);
}

/** Who logged in, for trace lines: the login's names, never its digest. */
function whoText(login: AppLoginInfo): string {
  return `app=${login.app} sip=${login.sip} dn=${login.dn} domain=${login.domain} pbxObj=${login.pbxObj}`;
}

/** Where a connection came from: the front's x-forwarded-for, else the socket's peer. */
function peerOf(request: IncomingMessage): string {
  const forwarded = request.headers['x-forwarded-for'];
  return (typeof forwarded === 'string' && forwarded) || request.socket.remoteAddress || '?';
}

/** WebSocket close codes this handler uses (RFC 6455, 7.4.1). */
const closeCodes = { unsupported: 1003, policy: 1008, tooBig: 1009, internal: 1011 } as const;

/**
 * A logged-in AppWebsocket connection. Emits `message` (an {@link AppMessage} the app should
 * answer), `pbxInfo` (a {@link PbxInfo}; also readable as `pbx`), and `close` (code, reason).
 * `KeepAlive` is swallowed. Frames that are not JSON objects with a string `mt` close the
 * connection (1003 binary, 1008 other).
 */
export class AppSession extends EventEmitter<{
  message: [message: AppMessage];
  pbxInfo: [info: PbxInfo];
  close: [code: number, reason: string];
}> {
  /** The PBX's own description, once it sent `PbxInfo`. */
  pbx: PbxInfo | undefined;
  /**
   * The path inside the instance the connection came on, without the query (e.g. `/ws`, or
   * `/` for the instance's own path): `request.path`.
   */
  readonly path: string;

  constructor(
    /** The login that opened this session. */
    readonly login: AppLoginInfo,
    /** Hex SHA-256 of `innovaphoneAppSessionKey:challenge:password`, fixed for the session. */
    readonly sessionKey: string,
    readonly socket: WebSocket,
    /** The upgrade request (original path `url`, path inside the instance `path`, headers). */
    readonly request: IncomingMessage,
    /** Where frames sent are traced (`app-websocket`); the SDK passes the instance. */
    private readonly tracer?: Tracer,
  ) {
    super();
    const { path } = request as Partial<AppRequest>;
    this.path = typeof path === 'string' ? path : (request.url ?? '/').split('?', 1)[0] || '/';
  }

  /**
   * Sends a message. With `replyTo`, its `src` (when present) is copied into the answer, as
   * AppWebsocket clients expect. Dropped when the connection is no longer open.
   */
  send(message: AppMessage, replyTo?: { src?: unknown }): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const answer = replyTo?.src === undefined ? message : { ...message, src: replyTo.src };
    const text = JSON.stringify(answer);
    this.socket.send(text);
    if (this.tracer?.traceFlags.has(flag))
      traceFrame(this.tracer, 'out', message.mt, Buffer.byteLength(text));
  }

  /** Closes the connection (default 1000). */
  close(code = 1000, reason = ''): void {
    this.socket.close(code, reason);
  }

  /** Hex SHA-256 of `seed:sessionKey:data`. */
  hash(seed: string, data: string): string {
    return sessionHash(this.sessionKey, seed, data);
  }

  /** Hex of RC4 with key `seed:sessionKey` over the UTF-8 bytes of `data`. */
  encrypt(seed: string, data: string): string {
    return sessionEncrypt(this.sessionKey, seed, data);
  }

  /** The inverse of {@link encrypt}; throws a `RangeError` for a string that is not hex. */
  decrypt(seed: string, hex: string): string {
    return sessionDecrypt(this.sessionKey, seed, hex);
  }
}

/** Options of {@link appWebsocket}. */
export interface AppWebsocketOptions {
  /**
   * Takes each connection that logged in, synchronously (attach listeners right away). A
   * throw closes that connection with 1011 and is logged to the instance.
   */
  session(session: AppSession, instance: Instance): void;
  /** Closes a connection that has not logged in after this long; default 30 s. */
  loginTimeoutMs?: number;
  /**
   * Answers a client's `CheckBuild` (innovaphone's JavaScript client sends it with the URL of
   * the page it runs in, `location.href`, before it logs in): a URL to load instead, when that
   * page is of another build than this service serves, or undefined when it is fine. Without
   * this option, or when it throws (logged to the instance), the answer has no `url`, which
   * tells the client to carry on.
   */
  checkBuild?(url: string, instance: Instance): string | undefined;
}

const loginStrings = ['app', 'domain', 'sip', 'guid', 'dn', 'pbxObj'] as const;

/** The login fields of an AppLogin, or null when one has the wrong type. */
function loginOf(message: AppMessage): AppLoginInfo | null {
  const login: Record<string, string> = {};
  for (const field of loginStrings) {
    const value = message[field] ?? '';
    if (typeof value !== 'string') return null;
    login[field] = value;
  }
  const info = message.info;
  if (info !== undefined && (info === null || typeof info !== 'object' || Array.isArray(info))) {
    return null;
  }
  return { ...(login as Omit<AppLoginInfo, 'info'>), info: info as AppLoginInfo['info'] };
}

function pbxInfoOf(message: AppMessage): PbxInfo {
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return {
    domain: text(message.domain),
    pbx: text(message.pbx),
    pbxDns: text(message.pbxDns),
    apis: Array.isArray(message.apis) ? message.apis : [],
  };
}

/** The frame as an AppMessage, or the close code that refuses it. */
function parseFrame(data: Buffer, isBinary: boolean): AppMessage | number {
  if (isBinary) return closeCodes.unsupported;
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return closeCodes.policy;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return closeCodes.policy;
  const message = value as Record<string, unknown>;
  if (typeof message.mt !== 'string') return closeCodes.policy;
  return message as AppMessage;
}

/**
 * A `websocket` handler that speaks the AppWebsocket login of innovaphone PBX App objects
 * (docs/appwebsocket.md): it answers `AppChallenge` with a fresh challenge, checks `AppLogin`'s
 * digest against the instance password as it is at that moment, and hands the app only logged
 * in sessions. Before the login nothing but the login and `CheckBuild` (answered with
 * `CheckBuildResult`, see {@link AppWebsocketOptions.checkBuild}) is answered; each challenge serves one
 * login attempt; after {@link maxFailedLogins} failures, or when the login timeout passes, the
 * connection is closed (1008).
 */
export function appWebsocket(
  options: AppWebsocketOptions,
): (socket: WebSocket, request: IncomingMessage, instance: Instance) => void {
  const timeoutMs = options.loginTimeoutMs ?? loginTimeoutMs;
  return (socket, request, instance) => {
    let challenge: string | undefined;
    let failures = 0;
    let session: AppSession | undefined;
    const timer = setTimeout(() => {
      if (instance.traceFlags.has(flag))
        instance.trace(flag, `no login within ${timeoutMs} ms from ${peerOf(request)}: closed`);
      socket.close(closeCodes.policy, 'login timeout');
    }, timeoutMs);
    socket.once('close', (code, reason) => {
      clearTimeout(timer);
      if (instance.traceFlags.has(flag))
        instance.trace(
          flag,
          `${session === undefined ? 'connection' : 'session'} closed ${code} ${reason.toString()}`,
        );
      session?.emit('close', code, reason.toString());
    });

    const answer = (message: AppMessage, replyTo: AppMessage) => {
      const reply = replyTo.src === undefined ? message : { ...message, src: replyTo.src };
      const text = JSON.stringify(reply);
      socket.send(text);
      if (instance.traceFlags.has(flag))
        traceFrame(instance, 'out', message.mt, Buffer.byteLength(text));
    };

    const checkBuild = (message: AppMessage) => {
      let url: string | undefined;
      try {
        const page = typeof message.url === 'string' ? message.url : '';
        url = options.checkBuild?.(page, instance);
      } catch (error) {
        instance.log('AppWebsocket checkBuild failed:', error);
      }
      answer(
        typeof url === 'string' ? { mt: 'CheckBuildResult', url } : { mt: 'CheckBuildResult' },
        message,
      );
    };

    const tryLogin = (message: AppMessage) => {
      const issued = challenge;
      challenge = undefined;
      const login = loginOf(message);
      const ok =
        issued !== undefined &&
        login !== null &&
        digestMatches(message.digest, loginDigest(login, issued, instance.password));
      if (!ok) {
        failures++;
        if (instance.traceFlags.has(flag)) {
          const why =
            issued === undefined
              ? 'no challenge asked before it'
              : login === null
                ? 'malformed login fields'
                : 'wrong digest (not the instance password)';
          const who = login === null ? '' : ` ${whoText(login)}`;
          instance.trace(
            flag,
            `login failed from ${peerOf(request)}${who}: ${why} (${failures} of ${maxFailedLogins})`,
          );
        }
        answer({ mt: 'AppLoginResult', ok: false }, message);
        if (failures >= maxFailedLogins) socket.close(closeCodes.policy, 'too many failed logins');
        return;
      }
      clearTimeout(timer);
      // A handler called by hand (not through the SDK's dispatch) may pass Node's own request.
      const appRequest = 'path' in request ? request : asAppRequest(request, instance.path);
      session = new AppSession(
        login,
        sessionKeyOf(issued, instance.password),
        socket,
        appRequest,
        instance,
      );
      if (instance.traceFlags.has(flag))
        instance.trace(flag, `login ok from ${peerOf(request)} ${whoText(login)}`);
      answer({ mt: 'AppLoginResult', ok: true, domain: instance.domain }, message);
      try {
        options.session(session, instance);
      } catch (error) {
        instance.log('AppWebsocket session handler failed:', error);
        socket.close(closeCodes.internal, 'internal error');
      }
    };

    socket.on('message', (data: Buffer, isBinary) => {
      if (session === undefined && data.length > maxLoginFrameBytes) {
        if (instance.traceFlags.has(flag))
          instance.trace(flag, `in: a frame of ${data.length} B before the login: closed`);
        socket.close(closeCodes.tooBig, 'frame too large before login');
        return;
      }
      const message = parseFrame(data, isBinary);
      if (typeof message === 'number') {
        if (instance.traceFlags.has(flag))
          instance.trace(
            flag,
            `in: ${isBinary ? 'a binary' : 'not an AppWebsocket'} frame of ${data.length} B: closed ${message}`,
          );
        socket.close(message, 'AppWebsocket frames are JSON objects with "mt"');
        return;
      }
      if (instance.traceFlags.has(flag)) traceFrame(instance, 'in', message.mt, data.length);
      if (message.mt === 'KeepAlive') return;
      // Answered before the login as after it: the client sends it before AppChallenge.
      if (message.mt === 'CheckBuild') {
        checkBuild(message);
        return;
      }
      if (session === undefined) {
        if (message.mt === 'AppChallenge') {
          challenge = newChallenge();
          answer({ mt: 'AppChallengeResult', challenge }, message);
        } else if (message.mt === 'AppLogin') {
          tryLogin(message);
        }
        // Anything else before the login goes unanswered.
        return;
      }
      // A second login on a logged-in connection changes nothing.
      if (message.mt === 'AppChallenge' || message.mt === 'AppLogin') return;
      try {
        if (message.mt === 'PbxInfo') {
          session.pbx = pbxInfoOf(message);
          if (instance.traceFlags.has(flag))
            instance.trace(
              flag,
              `PbxInfo pbx=${session.pbx.pbx} domain=${session.pbx.domain} dns=${session.pbx.pbxDns}`,
            );
          session.emit('pbxInfo', session.pbx);
        } else {
          session.emit('message', message);
        }
      } catch (error) {
        // A throwing listener would otherwise take the whole service (every instance) down.
        instance.log(`AppWebsocket ${message.mt} handler failed:`, error);
        socket.close(closeCodes.internal, 'internal error');
      }
    });
  };
}
