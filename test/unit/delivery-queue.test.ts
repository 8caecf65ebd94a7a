import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { DeliveryQueue, PermanentFailure } from '../../src/core/alarms/index.js';
import { createLogger } from '../../src/lib/logger.js';

interface Harness {
  queue: DeliveryQueue<string>;
  /** Every try, in order, with its time (ms since the harness was made). */
  tries: { message: string; at: number }[];
  delivered: string[];
  /** The log lines (JSON) the queue wrote. */
  log: Record<string, unknown>[];
}

/**
 * A queue whose `send` asks `answer` what to do with each try: resolve (delivered), throw
 * (tried again), or wait for a promise first.
 */
function harness(
  answer: (message: string, attempt: number) => Promise<void> | void,
  options: Partial<{
    limit: number;
    initialDelayMs: number;
    maxDelayMs: number;
    attempts: number;
  }> = {},
): Harness {
  const started = performance.now();
  const tries: Harness['tries'] = [];
  const delivered: string[] = [];
  const log: Record<string, unknown>[] = [];
  const counts = new Map<string, number>();
  const logger = createLogger({
    level: 'warn',
    file: { write: (line: string) => log.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const queue = new DeliveryQueue<string>({
    name: 'test',
    logger,
    limit: options.limit ?? 100,
    initialDelayMs: options.initialDelayMs ?? 5,
    maxDelayMs: options.maxDelayMs ?? 20,
    attempts: options.attempts ?? 5,
    send: async (message) => {
      const attempt = (counts.get(message) ?? 0) + 1;
      counts.set(message, attempt);
      tries.push({ message, at: performance.now() - started });
      await answer(message, attempt);
      delivered.push(message);
    },
  });
  return { queue, tries, delivered, log };
}

/** Waits until the queue is empty (or fails after `ms`). */
async function drained(queue: DeliveryQueue<string>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (queue.length > 0) {
    if (Date.now() > end) assert.fail(`still ${queue.length} messages after ${ms} ms`);
    await sleep(2);
  }
}

describe('delivery queue', () => {
  test('delivers every message once, in the order pushed, without blocking the caller', async () => {
    const h = harness(() => sleep(1).then(() => undefined));
    for (const m of ['a', 'b', 'c', 'd', 'e']) h.queue.push(m);
    // push returned before anything was delivered
    assert.deepEqual(h.delivered, []);
    assert.equal(h.queue.length, 5);
    await drained(h.queue);
    assert.deepEqual(h.delivered, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(h.tries.length, 5);
    await h.queue.close();
  });

  test('a failed message is tried again before the next one goes', async () => {
    const h = harness((message, attempt) => {
      if (message === 'b' && attempt < 3) throw new Error('receiver down');
    });
    for (const m of ['a', 'b', 'c']) h.queue.push(m);
    await drained(h.queue);
    assert.deepEqual(
      h.tries.map((t) => t.message),
      ['a', 'b', 'b', 'b', 'c'],
    );
    assert.deepEqual(h.delivered, ['a', 'b', 'c']);
    const warnings = h.log.map((line) => line.msg);
    assert.deepEqual(warnings, [
      'alarm notification failed: will retry',
      'alarm notification failed: will retry',
    ]);
    assert.equal(h.log[0]?.error, 'receiver down');
    await h.queue.close();
  });

  test('the delay between tries doubles from the first delay up to the longest', async () => {
    const h = harness(
      (_message, attempt) => {
        if (attempt < 6) throw new Error('no');
      },
      { initialDelayMs: 40, maxDelayMs: 160, attempts: 10 },
    );
    h.queue.push('x');
    await drained(h.queue);
    const gaps = h.tries.slice(1).map((t, i) => t.at - (h.tries[i]?.at ?? 0));
    const expected = [40, 80, 160, 160, 160];
    assert.equal(gaps.length, expected.length);
    gaps.forEach((gap, i) => {
      const want = expected[i] ?? 0;
      // Timers fire no earlier than asked (a millisecond of rounding aside), maybe later.
      assert.ok(gap >= want - 2, `gap ${i + 1} is ${gap.toFixed(1)} ms, expected ${want}`);
      assert.ok(gap < want + 150, `gap ${i + 1} is ${gap.toFixed(1)} ms, expected ${want}`);
    });
    await h.queue.close();
  });

  test('a message is dropped after its last attempt, and the next one goes', async () => {
    const h = harness(
      (message) => {
        if (message === 'bad') throw new Error('always');
      },
      { attempts: 3 },
    );
    for (const m of ['bad', 'good']) h.queue.push(m);
    await drained(h.queue);
    assert.deepEqual(
      h.tries.map((t) => t.message),
      ['bad', 'bad', 'bad', 'good'],
    );
    assert.deepEqual(h.delivered, ['good']);
    assert.equal(h.log.at(-1)?.msg, 'alarm notification failed: dropped');
    assert.equal(h.log.at(-1)?.attempt, 3);
    await h.queue.close();
  });

  test('a permanent failure is dropped at once, not tried again', async () => {
    const h = harness((message) => {
      if (message === 'refused') throw new PermanentFailure('answered 400');
    });
    for (const m of ['refused', 'next']) h.queue.push(m);
    await drained(h.queue);
    assert.deepEqual(
      h.tries.map((t) => t.message),
      ['refused', 'next'],
    );
    assert.deepEqual(h.delivered, ['next']);
    assert.deepEqual(
      h.log.map((line) => line.msg),
      ['alarm notification failed: dropped'],
    );
    await h.queue.close();
  });

  test('when full, the oldest waiting message is dropped, never the one being sent', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const h = harness((message) => (message === 'a' ? gate : undefined), { limit: 2 });
    h.queue.push('a'); // being sent, held at the gate
    await sleep(5);
    for (const m of ['b', 'c', 'd', 'e']) h.queue.push(m);
    // 'a' is being sent; of b, c, d, e only the newest two wait.
    assert.equal(h.queue.length, 3);
    assert.equal(h.log.filter((line) => /queue full/.test(String(line.msg))).length, 2);
    release();
    await drained(h.queue);
    assert.deepEqual(h.delivered, ['a', 'd', 'e']);
    await h.queue.close();
  });

  test('a message waiting for its retry keeps its place when the queue is full', async () => {
    const h = harness(
      (message, attempt) => {
        if (message === 'a' && attempt === 1) throw new Error('once');
      },
      { limit: 1, initialDelayMs: 50, maxDelayMs: 50 },
    );
    h.queue.push('a');
    await sleep(10); // 'a' failed and waits for its retry
    h.queue.push('b');
    h.queue.push('c');
    await drained(h.queue);
    assert.deepEqual(h.delivered, ['a', 'c']);
    await h.queue.close();
  });

  test('retryNow tries a waiting message at once instead of after its delay', async () => {
    const h = harness(
      (_message, attempt) => {
        if (attempt === 1) throw new Error('once');
      },
      { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    );
    h.queue.push('a');
    await sleep(10);
    assert.deepEqual(h.delivered, []);
    h.queue.retryNow();
    await drained(h.queue, 1000);
    assert.deepEqual(h.delivered, ['a']);
    await h.queue.close();
  });

  test('close aborts the try in progress, drops what waits, and ignores later pushes', async () => {
    let aborted = false;
    const queue = new DeliveryQueue<string>({
      name: 'test',
      logger: createLogger({ level: 'silent', file: { write: () => undefined } }),
      limit: 10,
      initialDelayMs: 5,
      maxDelayMs: 5,
      attempts: 3,
      send: (_message, signal) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    });
    queue.push('a');
    queue.push('b');
    await sleep(5);
    await queue.close();
    assert.ok(aborted);
    queue.push('c');
    assert.equal(queue.length, 2, 'nothing is added after close');
  });
});
