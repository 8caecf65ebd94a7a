import {
  Agent,
  request,
  type ClientRequestArgs,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { isHttp2 } from '../../lib/http-json.js';
import { connectOwnedSocket } from '../../lib/owned-socket.js';
import { sessionCookieName } from '../auth/index.js';
import { AppvisorError, sendError } from '../errors/index.js';
import { peerAgent, peerHeader, type ClientView } from './peer.js';

/** Seconds a visitor is told to wait (Retry-After) while an instance cannot be reached. */
export const retrySeconds = 2;

/** Where a request for an instance goes. */
export interface InstanceTarget {
  /** The instance id, sent as `x-appvisor-instance`. */
  id: string;
  /**
   * The service's HTTP socket, the path the manager assigned to the app (never one the service
   * named); null while the service is not running or serves no HTTP.
   */
  socket: string | null;
  /**
   * The uid the socket file must belong to (the app's user): the front connects to nothing
   * else, so a link or a foreign socket planted at the path is refused.
   */
  socketOwner: number;
  /** Whether the instance said it is ready. */
  ready: boolean;
  /**
   * Set while the platform cannot let the instance serve although it is ready (its database
   * server is restarting): requests are answered with this error (upgrades with a bare 503)
   * and do not reach the service.
   */
  outage?: AppvisorError | undefined;
  /** The path the instance is registered under (the request path starts with it). */
  path?: string;
  /** The app's `web.static` folder, whose files the front serves itself. */
  staticDir?: string | undefined;
  /** Hands an accepted socket to the service (plain HTTP WebSockets), when it takes them. */
  handoff?: ((message: object, socket: Socket) => void) | undefined;
  /**
   * Set when another node owns the instance: the request goes to that node's front (its HTTP
   * port) with the platform's peer secret, and that node hands it to the service.
   */
  peer?: PeerTarget | undefined;
}

/** The node that owns an instance, as {@link InstanceTarget.peer}. */
export interface PeerTarget {
  node: string;
  host: string;
  port: number;
  /** The value of `x-appvisor-peer` ({@link peerSecret}). */
  secret: string;
  /** Whether the node is up; requests for an instance of a node that is not are answered 503. */
  up: boolean;
}

/**
 * Keep-alive connections to the services' sockets, pooled per socket path. As many may stay
 * free as may be open: a smaller free pool closed a connection each time a burst of requests
 * ended, only to open it again on the next one (a fifth of requests under steady load paid for
 * a new connection). Free ones still close after the service's keep-alive timeout or ours.
 */
class ServiceAgent extends Agent {
  override createConnection(options: ClientRequestArgs): Duplex {
    return connectOwnedSocket(options.socketPath ?? '', (options as OwnedRequestArgs).socketOwner);
  }

  override getName(options?: ClientRequestArgs): string {
    return `${options?.socketPath ?? ''}:${(options as OwnedRequestArgs | undefined)?.socketOwner ?? ''}`;
  }
}

interface OwnedRequestArgs extends ClientRequestArgs {
  socketOwner: number;
}

const agent = new ServiceAgent({
  keepAlive: true,
  maxSockets: 256,
  maxFreeSockets: 256,
  timeout: 60_000,
});

/** Headers that belong to one connection, not to the request (RFC 9110, 7.6.1). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Whether a `Set-Cookie` of an app leaves the admin's session cookie alone. Cookies do not keep
 * to a port, so one an app sets with the admin cookie's name (or its `__Host-`/`__Secure-`
 * forms) would reach the admin origin; such ones are dropped, as is `Clear-Site-Data`, which
 * would clear the admin's cookie too.
 */
export function keepsAdminCookie(cookie: string): boolean {
  const name = cookie
    .slice(0, cookie.indexOf('='))
    .trim()
    .replace(/^__(Host|Secure)-/i, '');
  return name !== sessionCookieName;
}

/**
 * The headers sent on to a service: hop-by-hop ones dropped, incoming `x-forwarded-*` and
 * `x-appvisor-*` replaced (they are not trusted), the instance named.
 */
export function forwardHeaders(
  headers: IncomingHttpHeaders,
  target: InstanceTarget,
  client: { address: string | undefined; scheme: 'http' | 'https' },
  keepUpgrade = false,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  // Names a `Connection` header lists are hop-by-hop too; the usual `keep-alive` or `close`
  // (or `Upgrade`) lists nothing else, and is not split at all.
  const connection = headers.connection;
  const named =
    connection === undefined || !connection.includes(',')
      ? undefined
      : new Set(connection.split(',').map((name) => name.trim().toLowerCase()));
  const single = named === undefined ? connection?.trim().toLowerCase() : undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    // HTTP/2's pseudo-headers (`:path`, `:authority`, ...): the request line says those.
    if (name.charCodeAt(0) === 0x3a) continue;
    if (name.startsWith('x-forwarded-') || name.startsWith('x-appvisor-')) continue;
    if (
      (hopByHop.has(name) || named?.has(name) === true || name === single) &&
      !(keepUpgrade && (name === 'upgrade' || name === 'connection'))
    ) {
      continue;
    }
    out[name] = value;
  }
  // An HTTP/2 client names the host in `:authority` (RFC 9113, 8.3.1); the service speaks
  // HTTP/1.1, where Host is required.
  const authority = headers[':authority'];
  const host = headers.host ?? (typeof authority === 'string' ? authority : undefined);
  if (host && out.host === undefined) out.host = host;
  out['x-appvisor-instance'] = target.id;
  out['x-forwarded-for'] = client.address ?? '';
  out['x-forwarded-proto'] = client.scheme;
  if (host) out['x-forwarded-host'] = host;
  return out;
}

/**
 * Whether a connection failed before anything was sent: the node is gone (its routes may be
 * older than a takeover), and a request that has no body can go elsewhere.
 */
export function refused(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH';
}

/** Whether a request carries no body (so it can be sent again). */
export function bodiless(incoming: IncomingMessage): boolean {
  return (
    (incoming.method === 'GET' || incoming.method === 'HEAD') &&
    incoming.headers['content-length'] === undefined &&
    incoming.headers['transfer-encoding'] === undefined
  );
}

/**
 * Why a request for an instance of another node is not forwarded, or undefined when it may
 * be: the owner is not up, or the request already came from a node (the instance moved since
 * that node looked; forwarding again could go round in circles).
 */
export function peerRefusal(target: InstanceTarget, client: ClientView): string | undefined {
  if (!target.peer) return undefined;
  if (client.viaPeer) return `instance ${target.id} is not on this node (it moved); try again`;
  if (!target.peer.up) return `the node of instance ${target.id} (${target.peer.node}) is not up`;
  return undefined;
}

/**
 * Where a request for `target` goes: the service's socket (a socket of the app's user only),
 * or the owner node's front with the peer secret. `keepUpgrade` keeps `Upgrade` and
 * `Connection` (a WebSocket).
 */
export function upstreamOptions(
  incoming: IncomingMessage,
  target: InstanceTarget,
  client: ClientView,
  keepUpgrade: boolean,
): ClientRequestArgs {
  const headers = forwardHeaders(incoming.headers, target, client, keepUpgrade);
  const common = { method: incoming.method ?? 'GET', path: incoming.url ?? '/' };
  if (target.peer) {
    headers[peerHeader] = target.peer.secret;
    return {
      ...common,
      host: target.peer.host,
      port: target.peer.port,
      // An upgraded connection is the client's alone: it never goes back to a pool.
      agent: keepUpgrade ? false : peerAgent,
      headers,
    };
  }
  const owned: OwnedRequestArgs = {
    ...common,
    socketPath: target.socket ?? '',
    socketOwner: target.socketOwner,
    headers,
  };
  if (keepUpgrade) {
    owned.createConnection = () => connectOwnedSocket(target.socket ?? '', target.socketOwner);
  } else {
    owned.agent = agent;
  }
  return owned;
}

/**
 * The headers of a service's answer passed on to the client: hop-by-hop ones dropped (and
 * the others `drop` names), and what would touch the admin's session (see
 * {@link keepsAdminCookie}) taken out.
 */
export function answerHeaders(
  headers: IncomingHttpHeaders,
  drop: readonly string[] = [],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || hopByHop.has(name) || drop.includes(name)) continue;
    if (name === 'clear-site-data') continue;
    if (name === 'set-cookie') {
      const kept = (Array.isArray(value) ? value : [value]).filter(keepsAdminCookie);
      if (kept.length > 0) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

function unavailable(response: ServerResponse, message: string): void {
  sendError(
    response,
    new AppvisorError('INSTANCE_UNAVAILABLE', message, { retryAfter: retrySeconds }),
  );
}

/** A reason phrase fit to pass on: printable ASCII and tabs (not Node's obs-text or DEL). */
const plainReason = /^[\t\x20-\x7e]*$/;

/** The service answered something that cannot be relayed. */
function badGateway(response: ServerResponse, id: string): void {
  sendError(
    response,
    new AppvisorError(
      'INSTANCE_UNAVAILABLE',
      `the service of instance ${id} sent an answer that cannot be relayed`,
      { status: 502 },
    ),
  );
}

/**
 * Proxies one request to the instance's service over its Unix socket, streaming both ways:
 * a large upload or download is never held in memory. A service that is down or fails to
 * answer gets the client a 503 with Retry-After, never a hang.
 */
export function proxyRequest(
  incoming: IncomingMessage,
  response: ServerResponse,
  target: InstanceTarget,
  client: ClientView,
  retry?: () => void,
): void {
  if (target.outage) {
    sendError(response, target.outage);
    return;
  }
  const refusal = peerRefusal(target, client);
  if (refusal) {
    unavailable(response, refusal);
    return;
  }
  if (!target.peer && (!target.ready || !target.socket)) {
    unavailable(response, `instance ${target.id} is not ready`);
    return;
  }
  const upstream = request(upstreamOptions(incoming, target, client, false));
  upstream.on('response', (answer) => {
    const headers = answerHeaders(answer.headers);
    // Node's client reads a reason phrase its server side refuses to write (a DEL in it):
    // writeHead threw out of this listener, and the service's answer ended the manager.
    // HTTP/2 has no reason phrase (Node warns when one is given).
    const reason =
      !isHttp2(response) && plainReason.test(answer.statusMessage ?? '')
        ? answer.statusMessage
        : undefined;
    try {
      response.writeHead(answer.statusCode ?? 502, reason, headers);
    } catch {
      answer.destroy();
      upstream.destroy();
      if (!response.headersSent) badGateway(response, target.id);
      else response.destroy();
      return;
    }
    answer.pipe(response);
  });
  upstream.on('error', (error) => {
    if (response.headersSent) {
      response.destroy();
    } else if (retry && target.peer && refused(error) && bodiless(incoming)) {
      retry();
    } else {
      unavailable(response, `the service of instance ${target.id} did not answer`);
    }
  });
  response.on('close', () => {
    if (!response.writableFinished) upstream.destroy();
  });
  incoming.pipe(upstream);
}
