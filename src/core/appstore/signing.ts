import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { AppvisorError } from '../errors/index.js';

/**
 * Ed25519 signatures of app store indexes and packages. A public key is written as the 43
 * base64url characters of its 32 raw bytes (what `appvisor store keygen` prints); PEM (SPKI)
 * is accepted too. A private key is a PKCS#8 PEM file. Signatures are base64.
 */

/** A new signing key: the private key as PKCS#8 PEM and the public key in its text form. */
export function generateSigningKey(): { privateKeyPem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKeyText(publicKey),
  };
}

/** The text form of a public key: base64url of its raw 32 bytes. */
export function publicKeyText(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new AppvisorError('SIGNATURE_INVALID', 'the key is not an Ed25519 key');
  }
  return jwk.x;
}

/** The public key of a private key, in its text form. */
export function publicKeyOf(privateKey: KeyObject): string {
  return publicKeyText(createPublicKey(privateKey));
}

/** Reads a public key: 32 raw bytes in base64url or base64, or PEM. APPSTORE_INVALID otherwise. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  try {
    // A private key would be turned into its public key: refused, it must not be stored.
    if (trimmed.includes('PRIVATE KEY')) throw new Error('private');
    if (trimmed.startsWith('-----BEGIN')) {
      const key = createPublicKey(trimmed);
      publicKeyText(key);
      return key;
    }
    const raw = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
    if (raw.length !== 32 || !/^[A-Za-z0-9_\-+/]{43}=?$/.test(trimmed)) throw new Error('length');
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
      format: 'jwk',
    });
  } catch {
    throw new AppvisorError(
      'APPSTORE_INVALID',
      'a trusted key is an Ed25519 public key: 43 base64url characters (appvisor store keygen) or PEM',
      { field: 'keys' },
    );
  }
}

/** Reads a PKCS#8 PEM Ed25519 private key. */
export function parsePrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AppvisorError('SIGNATURE_INVALID', 'the key file is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AppvisorError('SIGNATURE_INVALID', 'the key file is not an Ed25519 private key');
  }
  return key;
}

/** Signs bytes; the signature in base64. */
export function signBytes(data: Buffer, privateKey: KeyObject): string {
  return sign(null, data, privateKey).toString('base64');
}

/** Whether `signature` (base64) is one of `keys`' signature of `data`. */
export function verifyBytes(data: Buffer, signature: string, keys: readonly KeyObject[]): boolean {
  const bytes = Buffer.from(signature.trim(), 'base64');
  if (bytes.length !== 64) return false;
  return keys.some((key) => verify(null, data, key, bytes));
}

/** What a package's signature covers. */
export interface PackageFacts {
  id: string;
  version: string;
  build: number;
  sha256: string;
  size: number;
}

/**
 * The statement a package signature signs: the app, its version and build, and the digest and
 * size of the package's bytes. Signing the digest rather than the bytes lets a package of any
 * size be verified while it streams; binding the id and build stops a signed old package from
 * being offered as another app or as a newer build.
 */
export function packageStatement(facts: PackageFacts): Buffer {
  return Buffer.from(
    [
      'appvisor-package-v1',
      `id=${facts.id}`,
      `version=${facts.version}`,
      `build=${facts.build}`,
      `sha256=${facts.sha256.toLowerCase()}`,
      `size=${facts.size}`,
      '',
    ].join('\n'),
  );
}
