import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const version = 'v1';

/**
 * Encrypts short secrets (passwords) for storage: AES-256-GCM with a random 96-bit nonce per
 * value; the text form is `v1:<nonce>:<tag>:<ciphertext>`, base64url. Tampering or a wrong
 * key makes {@link open} throw instead of returning garbage.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError('the secret key must be 32 bytes');
    this.#key = key;
  }

  seal(plain: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [version, nonce, cipher.getAuthTag(), data]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join(':');
  }

  open(sealed: string): string {
    const [tag, nonce, auth, data] = sealed.split(':');
    if (tag !== version || nonce === undefined || auth === undefined || data === undefined) {
      throw new Error('not a sealed secret');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(nonce, 'base64url'));
    decipher.setAuthTag(Buffer.from(auth, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(data, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }

  /**
   * A secret derived from the key for `label` (HMAC-SHA-256, base64url): the same for the same
   * key and label, so it need not be stored; unknown to anyone without the key.
   */
  derive(label: string): string {
    return createHmac('sha256', this.#key).update(label).digest('base64url');
  }
}
