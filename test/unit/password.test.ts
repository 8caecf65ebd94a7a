import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generatePassword, hashPassword, verifyPassword } from '../../src/core/auth/password.js';

describe('hashPassword / verifyPassword', () => {
  test('a hash verifies its password and no other', async () => {
    const hash = await hashPassword('correct horse battery');
    assert.equal(await verifyPassword('correct horse battery', hash), true);
    assert.equal(await verifyPassword('correct horse battery ', hash), false);
    assert.equal(await verifyPassword('Correct horse battery', hash), false);
    assert.equal(await verifyPassword('', hash), false);
  });

  test('the hash does not contain the password', async () => {
    const hash = await hashPassword('very-secret-password');
    assert.ok(!hash.includes('very-secret-password'));
    assert.match(hash, /^scrypt\$/);
  });

  test('two hashes of the same password differ (salted) and both verify', async () => {
    const [first, second] = await Promise.all([
      hashPassword('same password'),
      hashPassword('same password'),
    ]);
    assert.notEqual(first, second);
    assert.equal(await verifyPassword('same password', first), true);
    assert.equal(await verifyPassword('same password', second), true);
  });

  test('a password typed in another Unicode normal form still verifies', async () => {
    const composed = 'caf\u00e9-p\u00e4ssword';
    const decomposed = composed.normalize('NFD');
    assert.notEqual(composed, decomposed);
    const hash = await hashPassword(composed);
    assert.equal(await verifyPassword(decomposed, hash), true);
  });

  test('malformed hash strings return false rather than throw', async () => {
    const good = await hashPassword('password1234');
    const [, n, r, p, salt, key] = good.split('$');
    const malformed = [
      '',
      'garbage',
      'scrypt',
      'scrypt$$$$$',
      `bcrypt$${n}$${r}$${p}$${salt}$${key}`,
      `scrypt$${n}$${r}$${p}$${salt}`,
      `scrypt$${n}$${r}$${p}$${salt}$`,
      `scrypt$${n}$${r}$${p}$$${key}`,
      `scrypt$${n}$${r}$${p}$${salt}$${key!.slice(0, 10)}`,
      // damaged cost parameters: not a number, not a power of two, zero, absurdly large
      `scrypt$abc$${r}$${p}$${salt}$${key}`,
      `scrypt$3$${r}$${p}$${salt}$${key}`,
      `scrypt$${n}$0$${p}$${salt}$${key}`,
      `scrypt$1073741824$${r}$${p}$${salt}$${key}`,
    ];
    for (const encoded of malformed) {
      assert.equal(await verifyPassword('password1234', encoded), false, JSON.stringify(encoded));
    }
  });
});

describe('generatePassword', () => {
  test('gives 24 characters of base64url', () => {
    for (let i = 0; i < 50; i++) assert.match(generatePassword(), /^[A-Za-z0-9_-]{24}$/);
  });

  test('1000 passwords are all distinct', () => {
    const passwords = new Set(Array.from({ length: 1000 }, () => generatePassword()));
    assert.equal(passwords.size, 1000);
  });
});
