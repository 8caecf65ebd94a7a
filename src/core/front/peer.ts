import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Agent } from 'node:http';

/**
 * The header a node's front sends with a request it forwards to the node that owns the
 * instance, proving that the `x-forwarded-for` and `x-forwarded-proto` beside it are a node's
 * and not a visitor's (docs/cluster.md).
 */
export const peerHeader = 'x-appvisor-peer';

/**
 * The value of {@link peerHeader}: derived from the platform's secret key, which every node
 * holds and no app or visitor does. Never logged, never passed on to a service (the front
 * drops every incoming `x-appvisor-*` header).
 */
export function peerSecret(secretKey: Buffer): string {
  return createHmac('sha256', secretKey).update('appvisor node-to-node forwarding 1').digest('hex');
}

/** Who a request comes from, as the service is told. */
export interface ClientView {
  address: string | undefined;
  scheme: 'http' | 'https';
  /** Whether another node forwarded the request (it is then not forwarded again). */
  viaPeer: boolean;
}

/** An address as a node forwards it: an IPv4 or IPv6 literal, nothing else. */
const addressLike = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * The client of a request: the connection's own address and scheme, or, for a request a node
 * forwarded with the platform's {@link peerSecret}, the visitor's as that node saw them.
 */
export function clientOf(
  request: IncomingMessage,
  scheme: 'http' | 'https',
  secret: string | undefined,
): ClientView {
  const own: ClientView = { address: request.socket.remoteAddress, scheme, viaPeer: false };
  const given = request.headers[peerHeader];
  if (secret === undefined || typeof given !== 'string' || given.length !== secret.length) {
    return own;
  }
  if (!timingSafeEqual(Buffer.from(given), Buffer.from(secret))) return own;
  const address = request.headers['x-forwarded-for'];
  const proto = request.headers['x-forwarded-proto'];
  return {
    address: typeof address === 'string' && addressLike.test(address) ? address : undefined,
    scheme: proto === 'https' ? 'https' : 'http',
    viaPeer: true,
  };
}

/**
 * Keep-alive connections to the other nodes' fronts, pooled per node: requests forwarded to
 * one owner reuse a few connections instead of opening one each.
 */
export const peerAgent = new Agent({
  keepAlive: true,
  maxSockets: 256,
  maxFreeSockets: 64,
  timeout: 60_000,
});
