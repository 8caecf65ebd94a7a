import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { writeFileAtomic } from '../../lib/atomic-write.js';

/**
 * The TLS settings of every HTTPS listener: TLS 1.2 and 1.3 only, and for TLS 1.2 only the
 * forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305) of Mozilla's
 * "intermediate" profile; the CBC suites with SHA-1 MACs are gone. TLS 1.3 keeps its three
 * suites. An uploaded certificate is checked with these same settings before it is kept.
 */
export const tlsServerOptions = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: false,
} as const;

/** A certificate chain and its private key, PEM encoded. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** What status pages show about the certificate in use. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  selfSigned: boolean;
  fingerprint256: string;
}

/** Describes the leaf (first) certificate of a PEM chain. */
export function describeCertificate(pem: string): CertificateInfo {
  const leaf = new X509Certificate(pem);
  return {
    subject: leaf.subject,
    issuer: leaf.issuer,
    validFrom: new Date(leaf.validFrom).toISOString(),
    validTo: new Date(leaf.validTo).toISOString(),
    selfSigned: leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey),
    fingerprint256: leaf.fingerprint256,
  };
}

/** Makes a self-signed certificate for this machine's name, localhost and the loopback addresses. */
export async function generateSelfSigned(name = hostname()): Promise<CertificatePair> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 3600_000),
    notAfterDate: new Date(now.getTime() + 825 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: name },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * The certificate files of the data folder (`tls/cert.pem`, `tls/key.pem`, both 0600).
 * When there are none, a self-signed pair is made and written.
 */
export async function loadOrCreateCertificate(tlsDir: string): Promise<CertificatePair> {
  const certPath = join(tlsDir, 'cert.pem');
  const keyPath = join(tlsDir, 'key.pem');
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pair = await generateSelfSigned();
  // Key first: a crash between the two writes leaves no certificate, so the next start makes both anew.
  await writeFileAtomic(keyPath, pair.key, 0o600);
  await writeFileAtomic(certPath, pair.cert, 0o600);
  return pair;
}
