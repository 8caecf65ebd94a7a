import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import type { Config } from '../../src/core/config/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { untilStopped } from '../../src/manager/signals.js';

const logger = createLogger({ level: 'silent', file: { write: () => undefined } });

/** A manager whose close is what the test says, and that counts its destroys. */
function fakeManager(close: () => Promise<void>, graceSeconds = 5) {
  const manager = {
    logger,
    config: { shutdown: { graceSeconds } } as Config,
    destroyed: 0,
    close,
    destroy: () => {
      manager.destroyed++;
    },
  };
  return manager;
}

describe('untilStopped', () => {
  test('a signal closes the manager: exit code 0', async () => {
    const signals = new EventEmitter();
    const manager = fakeManager(() => Promise.resolve());
    const code = untilStopped(manager, signals);
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await code, 0);
    assert.equal(manager.destroyed, 0);
  });

  test('a second signal destroys what is left at once: exit code 1', async () => {
    const signals = new EventEmitter();
    const manager = fakeManager(() => new Promise<void>(() => undefined));
    const code = untilStopped(manager, signals);
    signals.emit('SIGINT', 'SIGINT');
    signals.emit('SIGINT', 'SIGINT');
    assert.equal(await code, 1);
    assert.equal(manager.destroyed, 1);
  });

  test('a close that fails or outlasts the grace time ends in a destroy: exit code 1', async () => {
    const failing = fakeManager(() => Promise.reject(new Error('stuck')));
    const failingSignals = new EventEmitter();
    const failed = untilStopped(failing, failingSignals);
    failingSignals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await failed, 1);
    assert.equal(failing.destroyed, 1);

    const slow = fakeManager(() => new Promise<void>(() => undefined), 0.05);
    const slowSignals = new EventEmitter();
    const late = untilStopped(slow, slowSignals);
    slowSignals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await late, 1);
    assert.equal(slow.destroyed, 1);
  });
});
