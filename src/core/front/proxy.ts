import {
  Agent,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Where a request for an instance goes. */
export interface InstanceTarget {
  /** The instance id, sent as `x-appvisor-instance`. */
  id: string;
  /** The service's HTTP socket; null while the service is not running. */
  socket: string | null;
  /** Whether the instance said it is ready. */
  ready: boolean;
  /** The path the instance is registered under (the request path starts with it). */
  path?: string;
  /** The app's `web.static` folder, whose files the front serves itself. */
  staticDir?: string | undefined;
  /** Hands an accepted socket to the service (plain HTTP WebSockets), when it takes them. */
  handoff?: ((message: object, socket: Socket) => void) | undefined;
}

/**
 * Keep-alive connections to the services' sockets, pooled per socket path. As many may stay
 * free as may be open: a smaller free pool closed a connection each time a burst of requests
 * ended, only to open it again on the next one (a fifth of requests under steady load paid for
 * a new connection). Free ones still close after the service's keep-alive timeout or ours.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, timeout: 60_000 });

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
  const named = new Set(
    (headers.connection ?? '').split(',').map((name) => name.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name.startsWith('x-forwarded-') || name.startsWith('x-appvisor-')) continue;
    if (
      (hopByHop.has(name) || named.has(name)) &&
      !(keepUpgrade && (name === 'upgrade' || name === 'connection'))
    ) {
      continue;
    }
    out[name] = value;
  }
  out['x-appvisor-instance'] = target.id;
  out['x-forwarded-for'] = client.address ?? '';
  out['x-forwarded-proto'] = client.scheme;
  if (headers.host) out['x-forwarded-host'] = headers.host;
  return out;
}

function unavailable(response: ServerResponse, message: string): void {
  const text = JSON.stringify({ code: 'INSTANCE_UNAVAILABLE', message });
  response.writeHead(503, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'retry-after': '2',
  });
  response.end(text);
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
  scheme: 'http' | 'https',
): void {
  if (!target.ready || !target.socket) {
    unavailable(response, `instance ${target.id} is not ready`);
    return;
  }
  const upstream = request({
    socketPath: target.socket,
    agent,
    method: incoming.method,
    path: incoming.url,
    headers: forwardHeaders(incoming.headers, target, {
      address: incoming.socket.remoteAddress,
      scheme,
    }),
  });
  upstream.on('response', (answer) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    }
    response.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
    answer.pipe(response);
  });
  upstream.on('error', () => {
    if (!response.headersSent)
      unavailable(response, `the service of instance ${target.id} did not answer`);
    else response.destroy();
  });
  response.on('close', () => {
    if (!response.writableFinished) upstream.destroy();
  });
  incoming.pipe(upstream);
}

/**
 * Hands a WebSocket upgrade to the service process with the socket itself: the front stops
 * reading it first (bytes the client sent after the head stay in the kernel and travel with the
 * socket), then sends `{type: 'upgrade', ...}` with the socket as the message's handle. After
 * that the manager holds nothing for this connection.
 */
export function handOff(
  incoming: IncomingMessage,
  client: Socket,
  head: Buffer,
  target: InstanceTarget,
): boolean {
  if (!target.handoff) return false;
  // Without readStop, data arriving before the service's 101 would be read into this process
  // and lost to the service.
  (client as unknown as { _handle?: { readStop?: () => void } })._handle?.readStop?.();
  const message = {
    type: 'upgrade',
    instance: target.id,
    method: incoming.method ?? 'GET',
    url: incoming.url ?? '/',
    headers: forwardHeaders(
      incoming.headers,
      target,
      { address: client.remoteAddress, scheme: 'http' },
      true,
    ),
    head: head.toString('base64'),
  };
  // Once reading has stopped the socket is the service's: a false return of send() only says
  // that messages are queued (they still go), so there is no falling back to a pipe.
  try {
    target.handoff(message, client);
  } catch {
    client.destroy();
  }
  return true;
}

/**
 * Pipes a WebSocket upgrade to the service's socket: the request head is written anew (with
 * the forwarding headers), then bytes flow both ways untouched.
 */
export function proxyUpgrade(
  incoming: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: InstanceTarget,
  scheme: 'http' | 'https',
): void {
  if (!target.ready || !target.socket) {
    client.end(
      'HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
    );
    return;
  }
  const upstream = connect(target.socket);
  const headers = forwardHeaders(
    incoming.headers,
    target,
    { address: incoming.socket.remoteAddress, scheme },
    true,
  );
  const lines = [`${incoming.method ?? 'GET'} ${incoming.url ?? '/'} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  }
  upstream.once('connect', () => {
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  const close = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.once('error', () => {
    if (client.writable)
      client.end(
        'HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
      );
    close();
  });
  client.once('error', close);
  client.once('close', close);
  upstream.once('close', close);
}
