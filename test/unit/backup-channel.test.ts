import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createChannel,
  readRing,
  ringBytes,
  slot,
  writeRing,
} from '../../src/core/backup/channel.js';

describe('the pg_dump input ring', () => {
  test('hands out bytes in order across reads smaller than what arrived', () => {
    const channel = createChannel();
    assert.equal(writeRing(channel, Buffer.from('hello world')), 11);
    const small = new Uint8Array(4);
    assert.equal(readRing(channel, small), 4);
    assert.equal(Buffer.from(small).toString(), 'hell');
    const rest = new Uint8Array(100);
    assert.equal(readRing(channel, rest), 7);
    assert.equal(Buffer.from(rest.subarray(0, 7)).toString(), 'o world');
    assert.equal(readRing(channel, rest), 0, 'nothing left');
  });

  test('takes only what fits, wraps around the end, and bumps the wake counter', () => {
    const channel = createChannel();
    const wakes = Atomics.load(channel.control, slot.wake);
    const big = new Uint8Array(ringBytes + 10).map((_, i) => i % 251);
    assert.equal(writeRing(channel, big), ringBytes, 'a full ring takes no more');
    assert.equal(writeRing(channel, big.subarray(ringBytes)), 0);
    assert.ok(Atomics.load(channel.control, slot.wake) > wakes);
    const out = new Uint8Array(ringBytes - 5);
    assert.equal(readRing(channel, out), ringBytes - 5);
    // The next write straddles the end of the buffer.
    assert.equal(writeRing(channel, big.subarray(ringBytes)), 10);
    const tail = new Uint8Array(64);
    assert.equal(readRing(channel, tail), 15);
    assert.deepEqual(Array.from(tail.subarray(0, 15)), Array.from(big.subarray(ringBytes - 5)));
  });

  test('counters keep working when they wrap past 2^31', () => {
    const channel = createChannel();
    Atomics.store(channel.control, slot.head, 0x7ffffff0);
    Atomics.store(channel.control, slot.tail, 0x7ffffff0);
    const data = new Uint8Array(100).map((_, i) => i);
    assert.equal(writeRing(channel, data), 100);
    const out = new Uint8Array(100);
    assert.equal(readRing(channel, out), 100);
    assert.deepEqual(out, data);
  });
});
