import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CoalescedRun } from '../../src/lib/coalesced-run.js';

/** A task whose runs the test ends one by one. */
function gatedTask() {
  const ends: (() => void)[] = [];
  let runs = 0;
  let atOnce = 0;
  let most = 0;
  const task = async () => {
    runs++;
    atOnce++;
    most = Math.max(most, atOnce);
    await new Promise<void>((resolve) => ends.push(resolve));
    atOnce--;
  };
  const endNext = async () => {
    while (ends.length === 0) await new Promise((resolve) => setImmediate(resolve));
    ends.shift()!();
  };
  return { task, endNext, runs: () => runs, most: () => most };
}

describe('CoalescedRun', () => {
  test('calls during a run make one more run after it, never two at once', async () => {
    const gate = gatedTask();
    const runner = new CoalescedRun(gate.task);
    const first = runner.run();
    void runner.run();
    void runner.run();
    void runner.run();
    await gate.endNext();
    await gate.endNext();
    await first;
    assert.equal(gate.runs(), 2);
    assert.equal(gate.most(), 1);
    // Idle again: the next call runs at once.
    const next = runner.run();
    await gate.endNext();
    await next;
    assert.equal(gate.runs(), 3);
  });

  test('a task that throws ends its run, not the runner; stop lets no run start', async () => {
    let runs = 0;
    const runner = new CoalescedRun(() => {
      runs++;
      return Promise.reject(new Error('boom'));
    });
    await runner.run();
    await runner.run();
    assert.equal(runs, 2);
    await runner.stop();
    await runner.run();
    assert.equal(runs, 2);
  });
});
