/**
 * The configuration file's secrets block: the certificate, instance passwords and backup
 * targets' credentials as JSON,
 * encrypted with the admin's passphrase by the same stream cipher as encrypted backups
 * (scrypt, AES-256-GCM; a wrong passphrase is told apart from a damaged block).
 */
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { CipherError, createDecryptStream, createEncryptStream } from '../../lib/stream-cipher.js';
import { AppvisorError } from '../errors/index.js';
import type { SecretParts } from './document.js';

/** Shortest passphrase accepted for an export (the same rule as backups'). */
export const minPassphraseLength = 8;

/** Encrypts the secrets for the file; the passphrase must be at least 8 characters. */
export async function sealSecrets(parts: SecretParts, passphrase: string): Promise<string> {
  if (passphrase.length < minPassphraseLength) {
    throw new AppvisorError(
      'PASSPHRASE_WRONG',
      `an export with secrets needs a passphrase of at least ${minPassphraseLength} characters`,
      { field: 'passphrase' },
    );
  }
  const plain = Buffer.from(JSON.stringify(parts), 'utf8');
  const sealed = await buffer(Readable.from([plain]).pipe(createEncryptStream(passphrase)));
  return sealed.toString('base64');
}

function isSecretParts(value: unknown): value is SecretParts {
  if (typeof value !== 'object' || value === null) return false;
  const parts = value as Record<string, unknown>;
  const passwords = parts.instancePasswords;
  if (typeof passwords !== 'object' || passwords === null) return false;
  if (!Object.values(passwords).every((p) => typeof p === 'string')) return false;
  const targets = parts.backupTargets;
  if (targets !== undefined) {
    if (typeof targets !== 'object' || targets === null) return false;
    for (const credentials of Object.values(targets as Record<string, unknown>)) {
      if (typeof credentials !== 'object' || credentials === null) return false;
      if (!Object.values(credentials).every((v) => typeof v === 'string')) return false;
    }
  }
  const cert = parts.certificate as Record<string, unknown> | undefined;
  return cert === undefined || (typeof cert.cert === 'string' && typeof cert.key === 'string');
}

/** Decrypts the block; PASSPHRASE_WRONG for a missing or wrong passphrase, IMPORT_INVALID if damaged. */
export async function openSecrets(
  encrypted: string,
  passphrase: string | undefined,
): Promise<SecretParts> {
  if (passphrase === undefined || passphrase === '') {
    throw new AppvisorError(
      'PASSPHRASE_WRONG',
      'the file holds encrypted secrets: give the passphrase it was exported with',
      { field: 'passphrase' },
    );
  }
  let plain: Buffer;
  try {
    const sealed = Buffer.from(encrypted, 'base64');
    plain = await buffer(Readable.from([sealed]).pipe(createDecryptStream(passphrase)));
  } catch (error) {
    if (error instanceof CipherError && error.reason === 'passphrase') {
      throw new AppvisorError('PASSPHRASE_WRONG', 'the passphrase does not open the secrets', {
        field: 'passphrase',
      });
    }
    throw new AppvisorError('IMPORT_INVALID', 'secrets.encrypted is damaged', {
      field: 'secrets.encrypted',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(plain.toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isSecretParts(value)) {
    throw new AppvisorError('IMPORT_INVALID', 'secrets.encrypted does not hold secrets', {
      field: 'secrets.encrypted',
    });
  }
  return value;
}
