import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  digestMatches,
  loginDigest,
  newChallenge,
  rc4,
  sessionDecrypt,
  sessionEncrypt,
  sessionHash,
  sessionKeyOf,
} from '../../src/lib/app-login.js';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * What innovaphone's own JavaScript client hashes: its `innovaphone.crypto.sha256` runs the
 * text through `Utf8Encode`, which first replaces every CR LF with LF. So does ours, for the
 * digest, the session key and `hash` to agree with that client (issue 20, part 5).
 */
const clientSha256 = (text: string) => sha256(text.replace(/\r\n/g, '\n'));

describe('AppWebsocket login digest', () => {
  // The spec's three vectors: challenge 0123456789abcdef, password pwd.
  const vectors: [string, unknown, string][] = [
    [
      'pbxadminapi:::::0123456789abcdef:pwd',
      undefined,
      'a205299ed2ef2786c311e0be1b14db343f2cadd906a6ae7b564eee34bda5e9a1',
    ],
    [
      'pbxadminapi:::::{}:0123456789abcdef:pwd',
      {},
      '57b23fe824b9222a7ac879597cb509bcdc865a1bfeb057d9d12118cef0c3ba34',
    ],
    [
      'pbxadminapi:::::{"cn":"Test User"}:0123456789abcdef:pwd',
      { cn: 'Test User' },
      '96db3c3f657230c2b68194becc6d2a77f05de9f79f01fc81e9ca0fb196b10d9d',
    ],
  ];

  for (const [input, info, digest] of vectors) {
    test(`the spec's vector ${input}`, () => {
      assert.equal(sha256(input), digest, 'the vector itself');
      const fields = info === undefined ? { app: 'pbxadminapi' } : { app: 'pbxadminapi', info };
      assert.equal(loginDigest(fields, '0123456789abcdef', 'pwd'), digest);
    });
  }

  test('every field takes its place, in order; pbxObj is not part of it', () => {
    const fields = { app: 'a', domain: 'd', sip: 's', guid: 'g', dn: 'n', info: { x: [1] } };
    assert.equal(loginDigest(fields, 'c', 'p'), sha256('a:d:s:g:n:{"x":[1]}:c:p'));
    assert.equal(
      loginDigest({ ...fields, pbxObj: 'ignored' } as typeof fields, 'c', 'p'),
      loginDigest(fields, 'c', 'p'),
    );
    assert.equal(loginDigest({ domain: 'd' }, 'c', 'ü'), sha256(':d::::c:ü'));
  });

  test('CR LF in a field is hashed as LF, as the innovaphone client does', () => {
    const fields = {
      app: 'a',
      domain: 'd',
      sip: 's',
      guid: 'g',
      dn: 'two\r\nlines',
      info: { x: 1 },
    };
    const digest = loginDigest(fields, 'c', 'p\r\nw');
    assert.equal(digest, sha256('a:d:s:g:two\nlines:{"x":1}:c:p\nw'));
    assert.equal(digest, clientSha256('a:d:s:g:two\r\nlines:{"x":1}:c:p\r\nw'));
    assert.notEqual(digest, sha256('a:d:s:g:two\r\nlines:{"x":1}:c:p\r\nw'));
    // The spec's style of vector, worked out with sha256sum over `pbxadminapi::::Test<LF>User:…`.
    assert.equal(
      loginDigest({ app: 'pbxadminapi', dn: 'Test\r\nUser' }, '0123456789abcdef', 'pwd'),
      '0789302e734fdf7c5cf2c15b9be696928e5cac7450e3625af1319c8e92b7d715',
    );
    // A lone CR or LF is left as it is; only the pair becomes LF (CR CR LF: CR LF).
    assert.equal(loginDigest({ dn: 'x\ry\nz' }, 'c', 'p'), sha256('::::x\ry\nz:c:p'));
    assert.equal(loginDigest({ dn: 'x\r\r\n' }, 'c', 'p'), sha256('::::x\r\n:c:p'));
  });

  test('digestMatches: equal in either case; wrong, short, long or non-strings are not', () => {
    const expected = sha256('x');
    assert.equal(digestMatches(expected, expected), true);
    assert.equal(digestMatches(expected.toUpperCase(), expected), true);
    assert.equal(digestMatches(sha256('y'), expected), false);
    assert.equal(digestMatches(expected.slice(1), expected), false);
    assert.equal(digestMatches(`${expected}0`, expected), false);
    assert.equal(digestMatches(undefined, expected), false);
    assert.equal(digestMatches(42, expected), false);
    assert.equal(digestMatches('é'.repeat(32), expected), false);
  });

  test('challenges are 16 hex digits and differ', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const challenge = newChallenge();
      assert.match(challenge, /^[0-9a-f]{16}$/);
      seen.add(challenge);
    }
    assert.equal(seen.size, 1000);
  });
});

describe('AppWebsocket session helpers', () => {
  const key = sessionKeyOf('0123456789abcdef', 'pwd');

  test('the session key is SHA-256 of innovaphoneAppSessionKey:challenge:password', () => {
    assert.equal(key, sha256('innovaphoneAppSessionKey:0123456789abcdef:pwd'));
    assert.match(key, /^[0-9a-f]{64}$/);
  });

  test('hash is SHA-256 of seed:key:data', () => {
    assert.equal(sessionHash(key, 'seed', 'data'), sha256(`seed:${key}:data`));
  });

  test('a vector with CR LF: hash, session key and digest as the innovaphone client makes them', () => {
    const text = 'first line\r\nsecond line\r\n';
    // Worked out by hand: the client hashes `seed:key:first line\nsecond line\n`.
    assert.equal(sessionHash(key, 'seed', text), sha256(`seed:${key}:first line\nsecond line\n`));
    assert.equal(sessionHash(key, 'seed', text), clientSha256(`seed:${key}:${text}`));
    assert.notEqual(sessionHash(key, 'seed', text), sha256(`seed:${key}:${text}`));
    assert.equal(
      sessionKeyOf('0123456789abcdef', 'p\r\nwd'),
      sha256('innovaphoneAppSessionKey:0123456789abcdef:p\nwd'),
    );
    // encrypt is RC4 over the bytes as they are: the client encodes them with TextEncoder,
    // which keeps CR LF.
    const hex = sessionEncrypt(key, 's', 'a\r\nb');
    assert.equal(hex.length, 8);
    assert.equal(sessionDecrypt(key, 's', hex), 'a\r\nb');
  });

  test('RC4 matches the published test vectors', () => {
    const cases: [string, string, string][] = [
      ['Key', 'Plaintext', 'bbf316e8d940af0ad3'],
      ['Wiki', 'pedia', '1021bf0420'],
      ['Secret', 'Attack at dawn', '45a01f645fc35b383552544b9bf5'],
    ];
    for (const [k, plain, cipher] of cases) {
      assert.equal(rc4(Buffer.from(k), Buffer.from(plain)).toString('hex'), cipher);
    }
    assert.throws(() => rc4(Buffer.alloc(0), Buffer.from('x')), RangeError);
  });

  test('encrypt is RC4 keyed with seed:key; decrypt inverts it, also for UTF-8', () => {
    const expected = rc4(Buffer.from(`s:${key}`), Buffer.from('hello')).toString('hex');
    assert.equal(sessionEncrypt(key, 's', 'hello'), expected);
    for (const text of ['', 'hello', 'grüße 🙂', 'x'.repeat(5000)]) {
      const hex = sessionEncrypt(key, 'seed', text);
      assert.match(hex, /^([0-9a-f]{2})*$/);
      assert.equal(sessionDecrypt(key, 'seed', hex), text);
    }
    assert.notEqual(sessionEncrypt(key, 'a', 'same'), sessionEncrypt(key, 'b', 'same'));
    assert.notEqual(
      sessionDecrypt(key, 'other', sessionEncrypt(key, 'seed', 'secret text')),
      'secret text',
    );
  });

  test('decrypt refuses what is not hex', () => {
    for (const bad of ['abc', 'zz', 'a b ']) {
      assert.throws(() => sessionDecrypt(key, 's', bad), RangeError);
    }
  });
});
