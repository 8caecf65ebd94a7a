import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageLimiter, defaultServiceLimits } from '../../src/core/apps/service-limits.js';
import { escapeControls } from '../../src/lib/text-escape.js';
import { TokenBucket } from '../../src/lib/token-bucket.js';

describe('TokenBucket', () => {
  test('lets a burst pass, then the rate', () => {
    const clock = { now: 0 };
    const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, () => clock.now);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => bucket.take()),
      [true, true, true, false],
    );
    clock.now += 500;
    assert.equal(bucket.take(), true);
    assert.equal(bucket.take(), false);
    clock.now += 60_000;
    assert.equal(
      Array.from({ length: 10 }, () => bucket.take()).filter(Boolean).length,
      3,
      'never more than the burst',
    );
  });
});

describe('MessageLimiter', () => {
  const limits = {
    ...defaultServiceLimits,
    logs: { perSecond: 1, burst: 5 },
    alarms: { perSecond: 1, burst: 2 },
    floodLimit: 50,
  };

  test('limits each kind apart, reports drops once per window, and tells of a flood once', async () => {
    const clock = { now: 0 };
    const reports: Record<string, number>[] = [];
    const floods: number[] = [];
    const limiter = new MessageLimiter({
      limits,
      now: () => clock.now,
      windowMs: 20,
      report: (dropped) => reports.push(dropped),
      flooding: (dropped) => floods.push(dropped),
    });
    const passed = { log: 0, alarm: 0, 'instance.ready': 0 };
    for (let i = 0; i < 100; i++)
      for (const type of Object.keys(passed) as (keyof typeof passed)[])
        if (limiter.admit(type)) passed[type] += 1;
    assert.deepEqual(passed, { log: 5, alarm: 2, 'instance.ready': 100 });
    assert.deepEqual(floods, [50]);
    assert.equal(reports.length, 0, 'no report before the window ends');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(reports, [{ logs: 95, events: 0, alarms: 98, others: 0 }]);
    clock.now += 1000;
    assert.equal(limiter.admit('log'), true);
  });
});

describe('escapeControls', () => {
  test('escapes controls, separators and bidi characters, keeps tabs and text', () => {
    assert.equal(
      escapeControls('a\nb\rc\u001b[31md\u0000e\u007f\u0085\u2028\u2029\u202e\u2066\tf ü €'),
      'a\\nb\\rc\\x1b[31md\\x00e\\x7f\\x85\\u2028\\u2029\\u202e\\u2066\tf ü €',
    );
  });

  test('cuts long text', () => {
    assert.equal(escapeControls('abcdef', 4), 'abc…');
    assert.equal(escapeControls('abcd', 4), 'abcd');
  });
});
