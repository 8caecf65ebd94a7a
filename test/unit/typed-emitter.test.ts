import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TypedEmitter } from '../../src/lib/typed-emitter.js';

interface Events {
  'service.gone': { app: string };
  count: number;
}

describe('TypedEmitter', () => {
  test('calls the listeners of a name in the order they were added, with the payload', () => {
    const emitter = new TypedEmitter<Events>();
    const seen: string[] = [];
    emitter.on('service.gone', ({ app }) => seen.push(`first ${app}`));
    emitter.on('service.gone', ({ app }) => seen.push(`second ${app}`));
    emitter.on('count', (n) => seen.push(`count ${n}`));
    emitter.emit('service.gone', { app: 'notes' });
    emitter.emit('count', 3);
    assert.deepEqual(seen, ['first notes', 'second notes', 'count 3']);
  });

  test('an emit without listeners does nothing; on() returns what removes the listener', () => {
    const emitter = new TypedEmitter<Events>();
    emitter.emit('count', 1);
    const seen: number[] = [];
    const off = emitter.on('count', (n) => seen.push(n));
    assert.equal(emitter.listenerCount('count'), 1);
    emitter.emit('count', 1);
    off();
    off();
    emitter.emit('count', 2);
    assert.deepEqual(seen, [1]);
    assert.equal(emitter.listenerCount('count'), 0);
  });

  test('a listener may remove itself while the emit runs; the others still run', () => {
    const emitter = new TypedEmitter<Events>();
    const seen: string[] = [];
    const off = emitter.on('count', () => {
      seen.push('once');
      off();
    });
    emitter.on('count', () => seen.push('always'));
    emitter.emit('count', 1);
    emitter.emit('count', 2);
    assert.deepEqual(seen, ['once', 'always', 'always']);
  });

  test('a listener that throws ends the emit and the error reaches the caller', () => {
    const emitter = new TypedEmitter<Events>();
    let later = false;
    emitter.on('count', () => {
      throw new Error('boom');
    });
    emitter.on('count', () => {
      later = true;
    });
    assert.throws(() => {
      emitter.emit('count', 1);
    }, /boom/);
    assert.equal(later, false);
  });
});
