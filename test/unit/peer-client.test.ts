/** Who a request comes from, when another node may have forwarded it (src/core/front/peer.ts). */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { peerSecret } from '../../src/core/front/index.js';
import { clientOf } from '../../src/core/front/peer.js';

const secret = peerSecret(Buffer.alloc(32, 7));
const request = (headers: Record<string, string>) =>
  ({ headers, socket: { remoteAddress: '192.0.2.9' } }) as unknown as IncomingMessage;

test('forwarding headers are believed only with the platform secret', () => {
  const forwarded = { 'x-forwarded-for': '198.51.100.4', 'x-forwarded-proto': 'https' };
  assert.deepEqual(clientOf(request(forwarded), 'http', secret), {
    address: '192.0.2.9',
    scheme: 'http',
    viaPeer: false,
  });
  for (const wrong of ['', 'x', secret.slice(1), `${secret.slice(0, -1)}0`, secret.toUpperCase()]) {
    assert.equal(
      clientOf(request({ ...forwarded, 'x-appvisor-peer': wrong }), 'http', secret).viaPeer,
      wrong === secret,
    );
  }
  assert.deepEqual(clientOf(request({ ...forwarded, 'x-appvisor-peer': secret }), 'http', secret), {
    address: '198.51.100.4',
    scheme: 'https',
    viaPeer: true,
  });
  // A single node has no secret: nothing is believed.
  assert.equal(clientOf(request({ 'x-appvisor-peer': secret }), 'http', undefined).viaPeer, false);
  // A node never forwards a list or a name as the address.
  const odd = clientOf(
    request({ 'x-appvisor-peer': secret, 'x-forwarded-for': '1.2.3.4, 5.6.7.8' }),
    'https',
    secret,
  );
  assert.equal(odd.address, undefined);
  assert.equal(odd.scheme, 'http');
  assert.notEqual(peerSecret(Buffer.alloc(32, 8)), secret, 'another key, another secret');
});
