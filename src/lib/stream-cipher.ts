/**
 * Passphrase encryption for files of any size, streamed: AES-256-GCM over 64 KiB chunks, each
 * authenticated on its own with a nonce made of a random prefix, the chunk's number and a
 * last-chunk flag, so chunks cannot be reordered, dropped, repeated or the stream cut short
 * without the decryption failing. The key comes from the passphrase with scrypt and a random
 * salt; a key check value in the header tells a wrong passphrase from a damaged file.
 *
 * Layout: magic `AVENC1\n\0` (8) · scrypt log2(N) (1) · salt (16) · nonce prefix (7) ·
 * key check (16) · chunks of [flags+length (4, big-endian; top bit = last) · ciphertext · tag (16)].
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';

const magic = Buffer.from('AVENC1\n\0', 'latin1');
const headerLength = magic.length + 1 + 16 + 7 + 16;
const chunkSize = 64 * 1024;
const tagLength = 16;
const lastFlag = 0x8000_0000;
/** scrypt cost: 2^15 × 8 × 128 B = 32 MiB of memory, about 0.1 s. */
const defaultLogN = 15;

/** Why a decryption failed. */
export class CipherError extends Error {
  constructor(
    readonly reason: 'passphrase' | 'damaged',
    message: string,
  ) {
    super(message);
    this.name = 'CipherError';
  }
}

/** Whether a file starts like an encrypted stream (its first bytes). */
export function isEncrypted(head: Buffer): boolean {
  return head.length >= magic.length && head.subarray(0, magic.length).equals(magic);
}

function deriveKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const N = 2 ** logN;
    scrypt(passphrase, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

function keyCheck(key: Buffer): Buffer {
  return createHmac('sha256', key).update('appvisor key check').digest().subarray(0, 16);
}

function nonceOf(prefix: Buffer, counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(counter, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Encrypts what is written to it; the output is the layout above. */
export function createEncryptStream(passphrase: string, logN = defaultLogN): Transform {
  const salt = randomBytes(16);
  const prefix = randomBytes(7);
  const keyReady = deriveKey(passphrase, salt, logN);
  let key: Buffer | undefined;
  let pending: Buffer = Buffer.alloc(0);
  let counter = 0;

  const seal = (stream: Transform, plain: Buffer, last: boolean) => {
    const cipher = createCipheriv('aes-256-gcm', key!, nonceOf(prefix, counter++, last));
    const header = Buffer.alloc(4);
    header.writeUInt32BE((last ? lastFlag : 0) + plain.length);
    cipher.setAAD(header);
    stream.push(Buffer.concat([header, cipher.update(plain), cipher.final(), cipher.getAuthTag()]));
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const go = () => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        // Keep at least one byte back, so the last chunk is never an empty one after a full one.
        while (pending.length > chunkSize) {
          seal(this, pending.subarray(0, chunkSize), false);
          pending = pending.subarray(chunkSize);
        }
        callback();
      };
      if (key) {
        go();
        return;
      }
      keyReady.then(
        (derived) => {
          key = derived;
          this.push(Buffer.concat([magic, Buffer.from([logN]), salt, prefix, keyCheck(derived)]));
          go();
        },
        (error: unknown) => {
          callback(error as Error);
        },
      );
    },
    flush(callback: TransformCallback) {
      keyReady.then(
        (derived) => {
          if (!key) {
            key = derived;
            this.push(Buffer.concat([magic, Buffer.from([logN]), salt, prefix, keyCheck(derived)]));
          }
          seal(this, pending, true);
          callback();
        },
        (error: unknown) => {
          callback(error as Error);
        },
      );
    },
  });
}

/**
 * Decrypts the layout above. Errors with a {@link CipherError}: `passphrase` when the key check
 * fails, `damaged` when a chunk does not authenticate, the header is not ours, or the stream
 * ends before its last chunk.
 */
export function createDecryptStream(passphrase: string): Transform {
  let buffered: Buffer = Buffer.alloc(0);
  let key: Buffer | undefined;
  let prefix: Buffer | undefined;
  let counter = 0;
  let done = false;

  const open = (stream: Transform): void => {
    for (;;) {
      if (buffered.length < 4) return;
      const word = buffered.readUInt32BE(0);
      const last = word >= lastFlag;
      const length = last ? word - lastFlag : word;
      if (length > chunkSize) throw new CipherError('damaged', 'a chunk is longer than allowed');
      if (buffered.length < 4 + length + tagLength) return;
      if (done) throw new CipherError('damaged', 'data after the last chunk');
      const decipher = createDecipheriv('aes-256-gcm', key!, nonceOf(prefix!, counter++, last));
      decipher.setAAD(buffered.subarray(0, 4));
      decipher.setAuthTag(buffered.subarray(4 + length, 4 + length + tagLength));
      try {
        stream.push(
          Buffer.concat([decipher.update(buffered.subarray(4, 4 + length)), decipher.final()]),
        );
      } catch {
        throw new CipherError('damaged', `chunk ${counter - 1} does not authenticate`);
      }
      buffered = buffered.subarray(4 + length + tagLength);
      if (last) done = true;
    }
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (key) {
        try {
          open(this);
          callback();
        } catch (error) {
          callback(error as Error);
        }
        return;
      }
      if (buffered.length < headerLength) {
        callback();
        return;
      }
      if (!isEncrypted(buffered)) {
        callback(new CipherError('damaged', 'not an encrypted file'));
        return;
      }
      const logN = buffered[magic.length]!;
      if (logN < 10 || logN > 20) {
        callback(new CipherError('damaged', 'the header is damaged'));
        return;
      }
      const salt = buffered.subarray(magic.length + 1, magic.length + 17);
      prefix = Buffer.from(buffered.subarray(magic.length + 17, magic.length + 24));
      const check = buffered.subarray(magic.length + 24, headerLength);
      deriveKey(passphrase, salt, logN).then(
        (derived) => {
          if (!timingSafeEqual(keyCheck(derived), check)) {
            callback(new CipherError('passphrase', 'the passphrase is wrong'));
            return;
          }
          key = derived;
          buffered = buffered.subarray(headerLength);
          try {
            open(this);
            callback();
          } catch (error) {
            callback(error as Error);
          }
        },
        (error: unknown) => {
          callback(error as Error);
        },
      );
    },
    flush(callback: TransformCallback) {
      if (!done) {
        callback(new CipherError('damaged', 'the file ends before its last chunk'));
        return;
      }
      callback();
    },
  });
}

/**
 * Checks what can be checked of an encrypted stream without its passphrase: our header (magic,
 * a scrypt cost in range) and the chunk framing: every chunk but the last full-sized, exactly
 * one last chunk, nothing after it. Whether the chunks authenticate needs the key. Errors with a
 * `damaged` {@link CipherError}; nothing is passed on (a sink).
 */
export function createLayoutCheck(): Writable {
  let header = true;
  let buffered: Buffer = Buffer.alloc(0);
  let done = false;
  const frames = (): void => {
    for (;;) {
      if (header) {
        if (buffered.length < headerLength) return;
        const logN = buffered[magic.length]!;
        if (!isEncrypted(buffered) || logN < 10 || logN > 20) {
          throw new CipherError('damaged', 'the header is not that of an encrypted archive');
        }
        buffered = buffered.subarray(headerLength);
        header = false;
      }
      if (buffered.length === 0) return;
      if (done) throw new CipherError('damaged', 'data after the last chunk');
      if (buffered.length < 4) return;
      const word = buffered.readUInt32BE(0);
      const last = word >= lastFlag;
      const length = last ? word - lastFlag : word;
      if (length > chunkSize || (!last && length !== chunkSize)) {
        throw new CipherError('damaged', `a chunk of ${length} bytes is not one the writer makes`);
      }
      if (buffered.length < 4 + length + tagLength) return;
      buffered = buffered.subarray(4 + length + tagLength);
      if (last) done = true;
    }
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      try {
        frames();
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    final(callback) {
      callback(done ? null : new CipherError('damaged', 'the file ends before its last chunk'));
    },
  });
}
