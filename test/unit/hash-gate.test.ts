import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HashGate } from '../../src/core/auth/hash-gate.js';
import { AppvisorError } from '../../src/core/errors/index.js';

/** A piece of work that ends when told to. */
function pending() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { done, finish };
}

describe('HashGate', () => {
  test('runs at most `concurrency` at once, queues `queue` more, refuses the rest at once', async () => {
    const gate = new HashGate({ concurrency: 2, queue: 3 });
    let running = 0;
    let most = 0;
    const works = Array.from({ length: 10 }, () => pending());
    const outcomes = works.map((work) =>
      gate
        .run(async () => {
          running++;
          most = Math.max(most, running);
          await work.done;
          running--;
          return 'hashed';
        })
        .catch((error: unknown) => error),
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(running, 2);
    // the five beyond 2 running and 3 waiting were refused without waiting for anything
    const refused = await Promise.all(outcomes.slice(5));
    for (const error of refused) {
      assert.ok(error instanceof AppvisorError);
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal((error as AppvisorError & { retryAfter?: number }).retryAfter, 1);
    }
    for (const work of works) work.finish();
    assert.deepEqual(await Promise.all(outcomes.slice(0, 5)), Array(5).fill('hashed'));
    assert.equal(most, 2);
  });

  test('a failed piece of work frees its place', async () => {
    const gate = new HashGate({ concurrency: 1, queue: 0 });
    await assert.rejects(
      gate.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await gate.run(() => Promise.resolve(1)), 1);
  });
});
