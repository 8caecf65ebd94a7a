import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardHeaders } from '../../src/core/front/index.js';

test('forwarded headers: hop-by-hop dropped, incoming forwarding headers not trusted, instance named', () => {
  const out = forwardHeaders(
    {
      host: 'pbx.example.com',
      connection: 'keep-alive, x-secret-hop',
      'keep-alive': 'timeout=5',
      'x-secret-hop': 'drop me',
      'transfer-encoding': 'chunked',
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-appvisor-instance': 'someone-else',
      cookie: 'a=b',
    },
    { id: 'acme', socket: '/s', socketOwner: 0, ready: true },
    { address: '192.0.2.7', scheme: 'http' },
  );
  assert.deepEqual(out, {
    host: 'pbx.example.com',
    cookie: 'a=b',
    'x-appvisor-instance': 'acme',
    'x-forwarded-for': '192.0.2.7',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'pbx.example.com',
  });
});

test('an upgrade keeps Upgrade and Connection', () => {
  const out = forwardHeaders(
    { host: 'h', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' },
    { id: 'acme', socket: '/s', socketOwner: 0, ready: true },
    { address: '::1', scheme: 'https' },
    true,
  );
  assert.equal(out.upgrade, 'websocket');
  assert.equal(out.connection, 'Upgrade');
  assert.equal(out['sec-websocket-key'], 'k');
  assert.equal(out['x-forwarded-proto'], 'https');
});
