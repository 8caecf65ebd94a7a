import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimiter } from '../../src/core/auth/login-limiter.js';
import { AppvisorError } from '../../src/core/errors/index.js';

const windowMs = 60_000;

function limiter(maxClients?: number) {
  const clock = { now: 1_000_000 };
  const limits = new LoginLimiter({
    attempts: 5,
    windowMs,
    now: () => clock.now,
    ...(maxClients === undefined ? {} : { maxClients }),
  });
  return { clock, limits };
}

/** Asserts that check() refuses the client and returns the seconds it was told to wait. */
function refused(limits: LoginLimiter, client: string): number {
  let retryAfter = Number.NaN;
  assert.throws(
    () => {
      limits.check(client);
    },
    (error) => {
      assert.ok(error instanceof AppvisorError);
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.status, 429);
      const value = (error as AppvisorError & { retryAfter?: unknown }).retryAfter;
      assert.equal(typeof value, 'number');
      retryAfter = value as number;
      return true;
    },
  );
  return retryAfter;
}

describe('LoginLimiter', () => {
  test('an attempt counts when it is reserved, before the password is checked', () => {
    const { limits } = limiter();
    // 200 attempts start at once, none has finished hashing: only 5 may go on to the hash
    let allowed = 0;
    let refusedCount = 0;
    for (let i = 0; i < 200; i++) {
      try {
        limits.reserve('10.0.0.1');
        allowed++;
      } catch (error) {
        assert.ok(error instanceof AppvisorError);
        assert.equal(error.code, 'RATE_LIMITED');
        refusedCount++;
      }
    }
    assert.equal(allowed, 5);
    assert.equal(refusedCount, 195);
  });

  test('an attempt refused before hashing is given back; others stay counted', () => {
    const { limits } = limiter();
    const held = Array.from({ length: 5 }, () => limits.reserve('c'));
    refused(limits, 'c');
    // e.g. too many hashes at once: that attempt never tried the password
    limits.release(held[4]!);
    const again = limits.reserve('c');
    refused(limits, 'c');
    // giving back twice, or a stale reservation, frees no more than one place
    limits.release(again);
    limits.release(again);
    limits.reserve('c');
    refused(limits, 'c');
  });

  test('a success gives back its attempt and forgets the failures', () => {
    const { limits } = limiter();
    for (let i = 0; i < 4; i++) limits.reserve('c');
    limits.reserve('c');
    limits.succeed('c');
    for (let i = 0; i < 5; i++) limits.reserve('c');
    refused(limits, 'c');
  });

  test('allows 5 failures, then refuses with RATE_LIMITED and the seconds to wait', () => {
    const { clock, limits } = limiter();
    for (let i = 0; i < 5; i++) {
      limits.reserve('10.0.0.1');
      clock.now += 1500;
    }
    // the first failure was 7.5 s ago, so it leaves the 60 s window in 52.5 s: wait 53 s
    assert.equal(refused(limits, '10.0.0.1'), 53);
  });

  test('retryAfter is at least 1 second', () => {
    const { clock, limits } = limiter();
    for (let i = 0; i < 5; i++) limits.reserve('c');
    clock.now += windowMs - 1;
    // 1 ms to go: rounded up to a whole second, never 0 (a client told 0 would retry at once)
    assert.equal(refused(limits, 'c'), 1);
  });

  test('logins are allowed again once the oldest failure has left the window', () => {
    const { clock, limits } = limiter();
    const start = clock.now;
    for (let i = 0; i < 5; i++) {
      limits.reserve('c');
      clock.now += 1000;
    }
    clock.now = start + windowMs - 1;
    refused(limits, 'c');
    clock.now = start + windowMs;
    limits.check('c');
    // only one failure left the window: one more attempt blocks again
    limits.reserve('c');
    refused(limits, 'c');
    clock.now = start + 2 * windowMs;
    limits.check('c');
  });

  test('a success forgets the failures', () => {
    const { limits } = limiter();
    for (let i = 0; i < 4; i++) limits.reserve('c');
    limits.succeed('c');
    for (let i = 0; i < 4; i++) limits.reserve('c');
    limits.check('c');
    limits.reserve('c');
    refused(limits, 'c');
  });

  test('clients are limited independently', () => {
    const { limits } = limiter();
    for (let i = 0; i < 5; i++) limits.reserve('attacker');
    refused(limits, 'attacker');
    limits.check('admin');
    for (let i = 0; i < 4; i++) limits.reserve('admin');
    limits.check('admin');
    limits.succeed('admin');
    refused(limits, 'attacker');
  });

  test('maxClients bounds the clients tracked: the least recently failed is forgotten', () => {
    const { clock, limits } = limiter(2);
    for (let i = 0; i < 5; i++) limits.reserve('a');
    clock.now += 1;
    for (let i = 0; i < 5; i++) limits.reserve('b');
    clock.now += 1;
    refused(limits, 'a');
    refused(limits, 'b');
    // 'a' tried again after 'b' (a success, then a failure), so 'b' is now the oldest and is
    // forgotten for 'c'
    limits.succeed('a');
    for (let i = 0; i < 5; i++) limits.reserve('a');
    clock.now += 1;
    limits.reserve('c');
    limits.check('b');
    refused(limits, 'a');
  });

  test('with many clients, older ones are forgotten and newer ones kept', () => {
    const { limits } = limiter(100);
    for (let client = 0; client < 1000; client++) {
      for (let i = 0; i < 5; i++) limits.reserve(`client-${client}`);
    }
    limits.check('client-0');
    limits.check('client-899');
    refused(limits, 'client-900');
    refused(limits, 'client-999');
  });
});
