/** Ranges of a download (src/api/byte-range.ts) and the layout check of encrypted archives. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { ifRangeHolds, parseRange } from '../../src/api/byte-range.js';
import { createEncryptStream, createLayoutCheck } from '../../src/lib/stream-cipher.js';

describe('parseRange', () => {
  test('single ranges, clamped to the file', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=90-500', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 });
  });
  test('outside the file: unsatisfiable', () => {
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=100-200', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  });
  test('none, malformed, another unit or several ranges: the whole file', () => {
    for (const header of [undefined, 'bytes=', 'bytes=5-1', 'items=0-1', 'bytes=0-1,5-6', 'x']) {
      assert.equal(parseRange(header, 100), undefined, String(header));
    }
  });
});

describe('ifRangeHolds', () => {
  const file = { etag: '"abc"', modifiedAt: new Date('2026-03-01T03:00:00.700Z') };
  test('the same strong tag or date holds; another, a weak tag or junk does not', () => {
    assert.equal(ifRangeHolds(undefined, file), true);
    assert.equal(ifRangeHolds('"abc"', file), true);
    assert.equal(ifRangeHolds('Sun, 01 Mar 2026 03:00:00 GMT', file), true);
    assert.equal(ifRangeHolds('"abd"', file), false);
    assert.equal(ifRangeHolds('W/"abc"', file), false);
    assert.equal(ifRangeHolds('Sun, 01 Mar 2026 03:00:01 GMT', file), false);
    assert.equal(ifRangeHolds('yesterday', file), false);
  });
});

describe('createLayoutCheck', () => {
  const sealed = async (bytes: number): Promise<Buffer> =>
    Buffer.concat(
      await Readable.from([Buffer.alloc(bytes, 7)])
        .pipe(createEncryptStream('pass', 10))
        .toArray(),
    );
  const check = (bytes: Buffer) => pipeline(Readable.from([bytes]), createLayoutCheck());

  test('an encrypted stream passes; cut, extended or altered framing does not', async () => {
    const whole = await sealed(200_000);
    await check(whole);
    await check(await sealed(0));
    await assert.rejects(check(whole.subarray(0, whole.length - 1)), /ends before its last chunk/);
    await assert.rejects(check(Buffer.concat([whole, Buffer.from('x')])), /after the last chunk/);
    const framing = Buffer.from(whole);
    // The first chunk's length, after the 48-byte header: a short chunk that is not the last.
    framing.writeUInt32BE(100, 48);
    await assert.rejects(check(framing), /not one the writer makes/);
    await assert.rejects(check(Buffer.from('not encrypted at all, long enough here..........')));
  });
});
