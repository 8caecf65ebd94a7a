/**
 * The AppWebsocket login of innovaphone PBX App objects (docs/appwebsocket.md): the digest a
 * client sends, the session key both sides derive from it, and the session helpers `hash`,
 * `encrypt`, `decrypt`. Pure functions over node:crypto, shared by the SDK (the service side)
 * and the manager (which issues admin logins); nothing here knows about sockets.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The fields of an AppLogin that enter the digest; missing ones count as empty strings. */
export interface AppLoginFields {
  app?: string;
  domain?: string;
  sip?: string;
  guid?: string;
  dn?: string;
  /** Serialized compactly (as `JSON.stringify` does); when absent, its part is left out. */
  info?: unknown;
}

/**
 * Hex SHA-256 as innovaphone's JavaScript client computes it: its `innovaphone.crypto.sha256`
 * passes the text through `Utf8Encode`, which replaces every CR LF with LF first (a lone CR or
 * LF stays). The digest, the session key and `hash` all go through it, so a field or data with
 * CR LF gives the value that client gives. RC4 (`encrypt`) takes the bytes as they are: the
 * client encodes them with `TextEncoder`, which keeps CR LF.
 */
function sha256Hex(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n'), 'utf8').digest('hex');
}

/**
 * The digest of a login: lowercase hex SHA-256 of
 * `app:domain:sip:guid:dn[:info]:challenge:password` (CR LF hashed as LF, see sha256Hex).
 */
export function loginDigest(fields: AppLoginFields, challenge: string, password: string): string {
  const parts = [
    fields.app ?? '',
    fields.domain ?? '',
    fields.sip ?? '',
    fields.guid ?? '',
    fields.dn ?? '',
  ];
  if (fields.info !== undefined) parts.push(JSON.stringify(fields.info));
  parts.push(challenge, password);
  return sha256Hex(parts.join(':'));
}

/**
 * Compares a digest a client sent with the expected (lowercase) one in time that does not
 * depend on where they differ. Anything but a string of the expected length is unequal.
 */
export function digestMatches(sent: unknown, expected: string): boolean {
  const wanted = Buffer.from(expected, 'latin1');
  const given = Buffer.alloc(wanted.length);
  const ok = typeof sent === 'string' && Buffer.byteLength(sent, 'latin1') === wanted.length;
  // Hex is hex in either case; the expected digest is lowercase.
  if (ok) given.write(sent.toLowerCase(), 'latin1');
  // Always compare, so a wrong length costs the same as a wrong digest.
  return timingSafeEqual(given, wanted) && ok;
}

/** A fresh challenge: 16 lowercase hex digits from the CSPRNG. */
export function newChallenge(): string {
  return randomBytes(8).toString('hex');
}

/** The session key after a password login: hex SHA-256 of `innovaphoneAppSessionKey:challenge:password`. */
export function sessionKeyOf(challenge: string, password: string): string {
  return sha256Hex(`innovaphoneAppSessionKey:${challenge}:${password}`);
}

/** `hash(seed, data)` of a session: hex SHA-256 of `seed:sessionKey:data`. */
export function sessionHash(sessionKey: string, seed: string, data: string): string {
  return sha256Hex(`${seed}:${sessionKey}:${data}`);
}

/**
 * RC4 with the plain key schedule and no bytes dropped. RC4 is weak; it is here only because
 * the AppWebsocket protocol defines `encrypt`/`decrypt` with it, and Node's OpenSSL 3 no longer
 * offers it without the legacy provider.
 */
export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  if (key.length === 0) throw new RangeError('rc4: the key is empty');
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 0xff;
    const t = s[i]!;
    s[i] = s[j]!;
    s[j] = t;
  }
  const out = Buffer.allocUnsafe(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + s[i]!) & 0xff;
    const t = s[i]!;
    s[i] = s[j]!;
    s[j] = t;
    out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!;
  }
  return out;
}

/** `encrypt(seed, data)` of a session: hex of RC4 with key `seed:sessionKey` over UTF-8 `data`. */
export function sessionEncrypt(sessionKey: string, seed: string, data: string): string {
  return rc4(Buffer.from(`${seed}:${sessionKey}`, 'utf8'), Buffer.from(data, 'utf8')).toString(
    'hex',
  );
}

/**
 * `decrypt(seed, hex)` of a session, the inverse of {@link sessionEncrypt}. Throws a
 * `RangeError` when `hex` is not an even-length hex string.
 */
export function sessionDecrypt(sessionKey: string, seed: string, hex: string): string {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new RangeError('decrypt: not a hex string');
  return rc4(Buffer.from(`${seed}:${sessionKey}`, 'utf8'), Buffer.from(hex, 'hex')).toString(
    'utf8',
  );
}
