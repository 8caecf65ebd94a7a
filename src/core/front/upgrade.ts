import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClientView } from './peer.js';
import {
  answerHeaders,
  forwardHeaders,
  keepsAdminCookie,
  peerRefusal,
  refused,
  retrySeconds,
  upstreamOptions,
  type InstanceTarget,
} from './proxy.js';

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
  view: ClientView,
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
    headers: forwardHeaders(incoming.headers, target, view, true),
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

const unavailableHead = `HTTP/1.1 503 Service Unavailable\r\nretry-after: ${retrySeconds}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;

/** A response head as the front writes it to a raw client socket. */
function responseHead(
  status: number,
  message: string,
  headers: Record<string, string | string[] | undefined>,
): string {
  const lines = [`HTTP/1.1 ${status} ${message.replace(/[^\t\x20-\x7e]/g, '')}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * The service switched protocols: its 101 goes to the client with the service's header lines in
 * their order and case, less what an ordinary answer may not carry either (`Set-Cookie` of the
 * admin session, `Clear-Site-Data`: see {@link keepsAdminCookie}); then bytes flow both ways
 * untouched (what either side sent after its head first) until one side closes.
 */
function splice(
  client: Duplex,
  clientHead: Buffer,
  answer: IncomingMessage,
  socket: Duplex,
  upstreamHead: Buffer,
): void {
  const headers: Record<string, string | string[] | undefined> = {};
  for (let index = 0; index < answer.rawHeaders.length; index += 2) {
    const name = answer.rawHeaders[index]!;
    const value = answer.rawHeaders[index + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'clear-site-data' || (lower === 'set-cookie' && !keepsAdminCookie(value)))
      continue;
    const existing = headers[name];
    headers[name] =
      existing === undefined
        ? value
        : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  client.write(responseHead(101, answer.statusMessage ?? 'Switching Protocols', headers));
  if (upstreamHead.length > 0) client.write(upstreamHead);
  if (clientHead.length > 0) socket.write(clientHead);
  const close = () => {
    socket.destroy();
    client.destroy();
  };
  socket.once('error', close);
  socket.once('close', close);
  client.once('error', close);
  client.once('close', close);
  socket.pipe(client);
  client.pipe(socket);
}

/**
 * The service did not switch protocols: its answer is relayed as an ordinary response with
 * the front's own framing, the body delimited by the connection's end, which is closed
 * afterwards. `settled` is called once the relay is over, either way.
 */
function relayAnswer(
  client: Duplex,
  answer: IncomingMessage,
  upstream: ClientRequest,
  settled: () => void,
): void {
  const headers = answerHeaders(answer.headers, ['content-length']);
  headers.connection = 'close';
  client.write(responseHead(answer.statusCode ?? 502, answer.statusMessage ?? '', headers));
  answer.on('data', (chunk: Buffer) => {
    if (!client.write(chunk)) {
      answer.pause();
      client.once('drain', () => answer.resume());
    }
  });
  answer.once('end', () => {
    settled();
    client.end();
    upstream.destroy();
  });
  answer.once('error', () => {
    settled();
    client.destroy();
  });
}

/**
 * Proxies a WebSocket upgrade to the service's socket. The request goes on as a request (with
 * the front's forwarding headers); only when the service answers `101 Switching Protocols` do
 * bytes flow both ways untouched, starting with what the client sent after its head. Until then
 * the client's further bytes wait in its socket: a second request pipelined behind the upgrade
 * must never reach the service raw, where its `x-appvisor-instance` and `x-forwarded-*` headers
 * would be taken as the front's. Any other answer is relayed as an HTTP response and the
 * connection closed.
 */
export function proxyUpgrade(
  incoming: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: InstanceTarget,
  view: ClientView,
  retry?: () => void,
): void {
  const local = !target.peer;
  if (
    target.outage ||
    peerRefusal(target, view) !== undefined ||
    (local && (!target.ready || !target.socket))
  ) {
    client.end(unavailableHead);
    return;
  }
  const upstream = request(upstreamOptions(incoming, target, view, true));
  // Set once the connection is the service's, relayed, or given up: nothing else happens then.
  let done = false;
  const abandon = () => {
    if (done) return;
    done = true;
    upstream.destroy();
  };
  client.once('error', abandon);
  client.once('close', abandon);
  upstream.once('upgrade', (answer, socket, upstreamHead) => {
    if (done || client.destroyed) {
      socket.destroy();
      return;
    }
    done = true;
    client.off('error', abandon);
    client.off('close', abandon);
    splice(client, head, answer, socket, upstreamHead);
  });
  upstream.once('response', (answer) => {
    if (done || client.destroyed) {
      answer.destroy();
      return;
    }
    relayAnswer(client, answer, upstream, () => {
      done = true;
    });
  });
  upstream.once('error', (error) => {
    if (done) return;
    done = true;
    client.off('error', abandon);
    client.off('close', abandon);
    if (retry && target.peer && refused(error) && !client.destroyed) retry();
    else if (client.writable) client.end(unavailableHead);
    else client.destroy();
  });
  upstream.end();
}
