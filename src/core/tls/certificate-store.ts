import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { access, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { syncFolder, writeFileAtomic } from '../../lib/atomic-write.js';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import type { AlarmRaiser } from '../alarms/index.js';
import { AppvisorError } from '../errors/index.js';
import {
  describeCertificate,
  generateSelfSigned,
  loadOrCreateCertificate,
  tlsServerOptions,
  type CertificateInfo,
  type CertificatePair,
} from './certificates.js';

/** What `cert show` tells: the leaf, and how long the chain is. */
export interface CertificateStatus extends CertificateInfo {
  chainLength: number;
  /** The certificates served, leaf first, in PEM (public; the key is never shown). */
  pem: string;
}

/** `field` is the request field at fault: `cert` (the bundle) or `key`. */
function invalid(reason: string, field: 'cert' | 'key' = 'cert'): AppvisorError {
  return new AppvisorError('CERT_INVALID', reason, { field });
}

/** The alarm raised while a saved certificate could not be used and the self-signed one is served. */
export const certificateUnusableAlarm = 'certificate-unusable';

const ecCurves: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/**
 * Refuses keys too weak to protect the admin's password: RSA below 2048 bits, EC on curves
 * other than P-256, P-384 and P-521, and key types other than RSA, EC and Ed25519 (DSA, Ed448).
 */
function checkKeyStrength(key: KeyObject): void {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048)
      throw invalid(`the key is RSA with ${bits} bits: at least 2048 bits are needed`, 'key');
    return;
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown';
    if (!ecCurves[curve])
      throw invalid(
        `the key is EC on the curve ${curve}: only P-256, P-384 and P-521 are accepted`,
        'key',
      );
    return;
  }
  if (type === 'ed25519') return;
  throw invalid(
    `the key type ${type} is not accepted: use RSA (2048 bits or more), EC (P-256, P-384, P-521) or Ed25519`,
    'key',
  );
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The PEM blocks of one kind, in order. */
function pemBlocks(text: string, label: string): string[] {
  const pattern = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return text.match(pattern) ?? [];
}

/**
 * Checks a certificate bundle (leaf first, then intermediates, optionally the root) and its
 * private key (PKCS#1 `RSA PRIVATE KEY`, PKCS#8 `PRIVATE KEY`, or SEC1 `EC PRIVATE KEY`).
 * Throws CERT_INVALID with the reason: garbage, an encrypted key, a key that does not match the
 * leaf, a weak key, a chain out of order or broken, a leaf that has expired or is not valid yet
 * (not checked when `now` is null), or a pair Node's TLS refuses with the listeners' settings
 * (the secure context is built here, so what passes can be served).
 */
export function validateCertificate(
  bundle: string,
  keyPem: string,
  now: Date | null = new Date(),
): CertificatePair {
  const blocks = pemBlocks(bundle, 'CERTIFICATE');
  if (blocks.length === 0)
    throw invalid('the bundle holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      throw invalid(
        `certificate ${i + 1} of the bundle cannot be read: ${(error as Error).message}`,
      );
    }
  }
  if (/ENCRYPTED/.test(keyPem))
    throw invalid('the key is encrypted: give the key without a passphrase', 'key');
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid(
      code === 'ERR_MISSING_PASSPHRASE'
        ? 'the key is encrypted: give the key without a passphrase'
        : `the key cannot be read as a PEM private key (PKCS#1, PKCS#8 or EC): ${(error as Error).message}`,
      'key',
    );
  }
  const leaf = certificates[0]!;
  if (!leaf.checkPrivateKey(key))
    throw invalid('the key does not match the first (leaf) certificate of the bundle', 'key');
  checkKeyStrength(key);
  if (now && new Date(leaf.validTo) < now)
    throw invalid(`the certificate expired on ${new Date(leaf.validTo).toISOString()}`);
  if (now && new Date(leaf.validFrom) > now)
    throw invalid(`the certificate is valid only from ${new Date(leaf.validFrom).toISOString()}`);
  for (let i = 0; i + 1 < certificates.length; i++) {
    const child = certificates[i]!;
    const parent = certificates[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw invalid(
        `the chain is out of order or broken: certificate ${i + 2} (${parent.subject.replace(/\n/g, ', ')}) did not issue certificate ${i + 1} (${child.subject.replace(/\n/g, ', ')}); put the leaf first, then each issuer`,
      );
    }
  }
  const pair = {
    cert: `${blocks.join('\n')}\n`,
    key: keyPem.endsWith('\n') ? keyPem : `${keyPem}\n`,
  };
  try {
    createSecureContext({ ...tlsServerOptions, cert: pair.cert, key: pair.key });
  } catch (error) {
    throw invalid(`Node's TLS refuses the certificate and key: ${(error as Error).message}`);
  }
  return pair;
}

/**
 * The platform's TLS certificate: `tls/cert.pem` and `tls/key.pem` (0600). A self-signed one is
 * made at the first start; an uploaded one is validated first and written atomically; either way
 * the listeners get it for their next connection without a restart.
 *
 * The manager always starts: a saved pair that cannot be used (unreadable, a weak key, refused by
 * Node's TLS; say, replaced by hand) is moved aside to `cert.pem.unusable` and `key.pem.unusable`,
 * a new self-signed pair takes its place, and the `certificate-unusable` alarm stays raised
 * while the `.unusable` files are there (setting or resetting a certificate removes them). An
 * expired saved certificate is still served; the `cert-expiring` alarm tells about it.
 */
export class CertificateStore {
  readonly #folder: string;
  readonly #onChange: (pair: CertificatePair) => void;
  readonly #alarms: AlarmRaiser | undefined;
  #pair: CertificatePair | undefined;
  /**
   * Installs run one at a time: two at once wrote and renamed the same `.new` files, so one
   * failed (ENOENT) or the key of one ended beside the certificate of the other.
   */
  readonly #installs = new KeyedQueue();

  constructor(folder: string, onChange: (pair: CertificatePair) => void, alarms?: AlarmRaiser) {
    this.#folder = folder;
    this.#onChange = onChange;
    this.#alarms = alarms;
  }

  async load(): Promise<CertificatePair> {
    await this.#finishInstall();
    const [key, cert] = [join(this.#folder, 'key.pem'), join(this.#folder, 'cert.pem')];
    let pair = await loadOrCreateCertificate(this.#folder);
    let reason: string | undefined;
    try {
      pair = validateCertificate(pair.cert, pair.key, null);
    } catch (error) {
      reason = (error as Error).message;
      await rename(cert, `${cert}.unusable`);
      await rename(key, `${key}.unusable`);
      await syncFolder(this.#folder);
      pair = await loadOrCreateCertificate(this.#folder);
    }
    if (reason !== undefined || (await exists(`${cert}.unusable`))) {
      this.#alarms?.raise(
        certificateUnusableAlarm,
        'error',
        `the saved certificate cannot be used${reason === undefined ? '' : ` (${reason})`}: it was moved to tls/cert.pem.unusable and tls/key.pem.unusable, and a self-signed certificate is served until one is set`,
        'front',
      );
    }
    this.#pair = pair;
    this.#onChange(pair);
    return pair;
  }

  /**
   * Called once the store's alarms are loaded: a `certificate-unusable` alarm of an earlier run
   * whose `.unusable` files are gone (removed by hand) is over; {@link load} ran too early to
   * see it.
   */
  async reconcileAlarm(): Promise<void> {
    if (await exists(join(this.#folder, 'cert.pem.unusable'))) return;
    this.#alarms?.clear(
      certificateUnusableAlarm,
      'the unusable certificate files are gone',
      'front',
    );
  }

  status(): CertificateStatus {
    if (!this.#pair) throw new AppvisorError('STARTING', 'the certificate is not loaded yet');
    return {
      ...describeCertificate(this.#pair.cert),
      chainLength: pemBlocks(this.#pair.cert, 'CERTIFICATE').length,
      pem: pemBlocks(this.#pair.cert, 'CERTIFICATE').join('\n') + '\n',
    };
  }

  /** The certificate bundle and key served now (a configuration export with secrets). */
  pair(): CertificatePair {
    if (!this.#pair) throw new AppvisorError('STARTING', 'the certificate is not loaded yet');
    return { cert: this.#pair.cert, key: this.#pair.key };
  }

  /** Validates and installs an uploaded bundle and key; the old one stays when they are refused. */
  async set(bundle: string, key: string): Promise<CertificateStatus> {
    const pair = validateCertificate(bundle, key);
    return this.#installs.run('pair', async () => {
      await this.#install(pair);
      return this.status();
    });
  }

  /** Goes back to a new self-signed certificate. */
  async reset(): Promise<CertificateStatus> {
    const pair = await generateSelfSigned();
    return this.#installs.run('pair', async () => {
      await this.#install(pair);
      return this.status();
    });
  }

  /**
   * Both files are written under `.new` names first, then renamed key first. A crash before the
   * renames leaves the old pair (the `.new` files are dropped at the next load); a crash between
   * them leaves `cert.pem.new` alone, which the next load renames to finish the change.
   */
  async #install(pair: CertificatePair): Promise<void> {
    const [key, cert] = [join(this.#folder, 'key.pem'), join(this.#folder, 'cert.pem')];
    await writeFileAtomic(`${key}.new`, pair.key, 0o600);
    await writeFileAtomic(`${cert}.new`, pair.cert, 0o600);
    await rename(`${key}.new`, key);
    await rename(`${cert}.new`, cert);
    await syncFolder(this.#folder);
    this.#pair = pair;
    this.#onChange(pair);
    // A certificate chosen by the admin ends the fallback to the self-signed one.
    await rm(`${cert}.unusable`, { force: true });
    await rm(`${key}.unusable`, { force: true });
    this.#alarms?.clear(certificateUnusableAlarm, 'a new certificate is in place', 'front');
  }

  async #finishInstall(): Promise<void> {
    const [key, cert] = [join(this.#folder, 'key.pem'), join(this.#folder, 'cert.pem')];
    const [keyNew, certNew] = await Promise.all([exists(`${key}.new`), exists(`${cert}.new`)]);
    if (keyNew) {
      await rm(`${key}.new`, { force: true });
      await rm(`${cert}.new`, { force: true });
    } else if (certNew) {
      await rename(`${cert}.new`, cert);
    }
  }
}
