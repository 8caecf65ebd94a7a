/** The signatures of the calls between nodes (src/core/nodes/peer-calls.ts), on a fake clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerCallSigner } from '../../src/core/nodes/index.js';

test('a signature holds once, for its method and path, within a minute', () => {
  let now = 1_800_000_000_000;
  const clock = () => now;
  const key = Buffer.alloc(32, 3);
  const caller = new PeerCallSigner(key, clock);
  const receiver = new PeerCallSigner(key, clock);
  const header = caller.sign('POST', '/p/instances');
  assert.equal(receiver.verify('GET', '/p/instances', header), false, 'another method');
  assert.equal(receiver.verify('POST', '/p/instances?x=1', header), false, 'another path');
  assert.equal(receiver.verify('POST', '/p/instances', header), true);
  assert.equal(receiver.verify('POST', '/p/instances', header), false, 'played again');
  const old = caller.sign('POST', '/p/x');
  now += 61_000;
  assert.equal(receiver.verify('POST', '/p/x', old), false, 'too old');
  const early = caller.sign('POST', '/p/y');
  now -= 122_000;
  assert.equal(receiver.verify('POST', '/p/y', early), false, 'from too far ahead');
  assert.equal(receiver.verify('POST', '/p/y', undefined), false);
  assert.equal(receiver.verify('POST', '/p/y', [early]), false);
  assert.equal(receiver.verify('POST', '/p/y', 'garbage'), false);
  const other = new PeerCallSigner(Buffer.alloc(32, 4), clock);
  assert.equal(receiver.verify('POST', '/p/z', other.sign('POST', '/p/z')), false, 'another key');
});

test('the nonces it keeps are bounded: those past the window are forgotten', () => {
  let now = 1_800_000_000_000;
  const signer = new PeerCallSigner(Buffer.alloc(32, 5), () => now);
  for (let i = 0; i < 3000; i++) {
    assert.ok(signer.verify('GET', '/a', signer.sign('GET', '/a')));
    now += 100;
  }
  assert.ok(signer.verify('GET', '/a', signer.sign('GET', '/a')), 'still taking calls');
});
