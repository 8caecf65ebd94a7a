/** Builds certificate chains for tests: a root, an intermediate and a leaf for localhost. */
import { createPrivateKey } from 'node:crypto';
import { generate } from 'selfsigned';

export interface Chain {
  root: string;
  intermediate: string;
  leaf: string;
  /** The leaf's key, PKCS#8. */
  key: string;
}

const day = 24 * 3600_000;

export async function makeChain(
  options: { expired?: boolean; keyType?: 'rsa' | 'ec' } = {},
): Promise<Chain> {
  const now = Date.now();
  // The root and the intermediate: RSA certificate authorities valid for ten years.
  const authority = {
    keyType: 'rsa' as const,
    keySize: 2048,
    algorithm: 'sha256' as const,
    notBeforeDate: new Date(now - 10 * day),
    notAfterDate: new Date(now + 3650 * day),
    extensions: [
      { name: 'basicConstraints' as const, cA: true, critical: true },
      {
        name: 'keyUsage' as const,
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  };
  const root = await generate([{ name: 'commonName', value: 'Test Root' }], authority);
  const intermediate = await generate([{ name: 'commonName', value: 'Test Intermediate' }], {
    ...authority,
    ca: { key: root.private, cert: root.cert },
  });
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 10 * day),
    notAfterDate: new Date(options.expired ? now - day : now + 365 * day),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
    ca: { key: intermediate.private, cert: intermediate.cert },
  });
  return { root: root.cert, intermediate: intermediate.cert, leaf: leaf.cert, key: leaf.private };
}

/** The same key in another PEM form: PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), encrypted. */
export function reencode(key: string, form: 'pkcs1' | 'sec1' | 'encrypted'): string {
  const object = createPrivateKey(key);
  if (form === 'encrypted') {
    return object
      .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' })
      .toString();
  }
  return object.export({ format: 'pem', type: form }).toString();
}

/** A self-signed EC certificate for localhost with its key (PKCS#8). */
export async function makeEcCertificate(): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - day),
    notAfterDate: new Date(Date.now() + 365 * day),
  });
  return { cert: pems.cert, key: pems.private };
}

/** A self-signed RSA certificate for localhost with a key of `bits` bits (PKCS#8). */
export async function makeRsaCertificate(bits: number): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'rsa',
    keySize: bits,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - day),
    notAfterDate: new Date(Date.now() + 365 * day),
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * A leaf with a good RSA-2048 key, issued by a CA whose own key has 512 bits, as a bundle of
 * both: every check of the leaf passes, but Node's TLS refuses the chain ("ca key too small").
 */
export async function makeWeakCaChain(): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  const ca = await generate([{ name: 'commonName', value: 'Weak CA' }], {
    keyType: 'rsa',
    keySize: 512,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - day),
    notAfterDate: new Date(now + 365 * day),
    extensions: [{ name: 'basicConstraints', cA: true, critical: true }],
  });
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - day),
    notAfterDate: new Date(now + 365 * day),
    ca: { key: ca.private, cert: ca.cert },
  });
  return { cert: `${leaf.cert}${ca.cert}`, key: leaf.private };
}
