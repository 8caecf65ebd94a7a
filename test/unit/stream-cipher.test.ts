import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import {
  CipherError,
  createDecryptStream,
  createEncryptStream,
  isEncrypted,
} from '../../src/lib/stream-cipher.js';

/** Runs `input` (written in pieces of `piece` bytes) through a transform; resolves with the output. */
async function through(input: Buffer, transform: Transform, piece = 10_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) parts.push(input.subarray(i, i + piece));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

const encrypt = (data: Buffer, passphrase = 'correct horse', piece?: number) =>
  through(data, createEncryptStream(passphrase, 10), piece);
const decrypt = (data: Buffer, passphrase = 'correct horse', piece?: number) =>
  through(data, createDecryptStream(passphrase), piece);

function reason(error: unknown): string | undefined {
  return error instanceof CipherError ? error.reason : undefined;
}

describe('stream cipher', () => {
  test('round trips of many sizes and write patterns', async () => {
    for (const size of [0, 1, 65_535, 65_536, 65_537, 300_000]) {
      const data = randomBytes(size);
      for (const piece of [1_000, 70_000]) {
        const sealed = await encrypt(data, 'pass', piece);
        assert.ok(isEncrypted(sealed));
        // 32 plain bytes never appear by chance in the ciphertext (smaller inputs could).
        if (size >= 32) assert.ok(!sealed.includes(data.subarray(0, 32)), 'plain text shows');
        assert.deepEqual(await decrypt(sealed, 'pass', 777), data, `${size} in ${piece}`);
      }
    }
  });

  test('the same input encrypts differently each time', async () => {
    const data = Buffer.from('same text');
    assert.notDeepEqual(await encrypt(data), await encrypt(data));
  });

  test('a wrong passphrase is told apart from damage', async () => {
    const sealed = await encrypt(randomBytes(100_000));
    await assert.rejects(decrypt(sealed, 'wrong'), (error) => reason(error) === 'passphrase');
  });

  test('a changed byte, a cut, extra data, or a plain file are damage', async () => {
    const sealed = await encrypt(randomBytes(200_000));
    const flipped = Buffer.from(sealed);
    flipped[100_000] = flipped[100_000]! ^ 1;
    const cases: [string, Buffer][] = [
      ['flipped', flipped],
      ['cut at a chunk boundary', sealed.subarray(0, 64 + 2 * (4 + 65_536 + 16))],
      ['cut inside a chunk', sealed.subarray(0, sealed.length - 10)],
      ['extra data', Buffer.concat([sealed, sealed.subarray(64, 64 + 4 + 65_536 + 16)])],
      ['plain file', randomBytes(1000)],
    ];
    for (const [name, data] of cases) {
      await assert.rejects(decrypt(data), (error) => reason(error) === 'damaged', name);
    }
  });
});
