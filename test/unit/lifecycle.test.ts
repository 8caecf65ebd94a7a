import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ComponentGroup, once, type Component } from '../../src/lib/lifecycle.js';

interface FakeOptions {
  failStart?: Error;
  failClose?: Error;
  failDestroy?: Error;
}

/** A component that records every call in `log` as "<verb> <name>". */
function fake(name: string, log: string[], options: FakeOptions = {}): Component {
  return {
    name,
    start() {
      log.push(`start ${name}`);
      return options.failStart ? Promise.reject(options.failStart) : Promise.resolve();
    },
    close() {
      log.push(`close ${name}`);
      return options.failClose ? Promise.reject(options.failClose) : Promise.resolve();
    },
    destroy() {
      log.push(`destroy ${name}`);
      if (options.failDestroy) throw options.failDestroy;
    },
  };
}

describe('once', () => {
  test('calls the function once and returns the same promise every time', async () => {
    let calls = 0;
    const close = once(async () => {
      calls++;
      await Promise.resolve();
    });
    const first = close();
    const second = close();
    assert.equal(first, second);
    await first;
    assert.equal(close(), first);
    assert.equal(calls, 1);
  });

  test('a failure is reported to every caller and the function is not retried', async () => {
    let calls = 0;
    const boom = new Error('boom');
    const close = once(() => {
      calls++;
      return Promise.reject(boom);
    });
    await assert.rejects(close(), (error) => error === boom);
    await assert.rejects(close(), (error) => error === boom);
    assert.equal(calls, 1);
  });
});

describe('ComponentGroup', () => {
  test('starts components in order and closes them in reverse order', async () => {
    const log: string[] = [];
    const group = new ComponentGroup();
    for (const name of ['a', 'b', 'c']) group.add(fake(name, log));
    await group.start();
    assert.deepEqual(log, ['start a', 'start b', 'start c']);
    await group.close();
    assert.deepEqual(log.slice(3), ['close c', 'close b', 'close a']);
  });

  test('add() returns the component it was given', () => {
    const group = new ComponentGroup();
    const component = fake('a', []);
    assert.equal(group.add(component), component);
  });

  test('when a start fails, the started ones are closed in reverse order and the error rethrown', async () => {
    const log: string[] = [];
    const failure = new Error('c cannot start');
    const group = new ComponentGroup();
    group.add(fake('a', log));
    group.add(fake('b', log));
    group.add(fake('c', log, { failStart: failure }));
    group.add(fake('d', log));
    await assert.rejects(group.start(), (error) => error === failure);
    assert.deepEqual(log, ['start a', 'start b', 'start c', 'close b', 'close a']);
  });

  test('the start error is rethrown even when closing the started ones fails too', async () => {
    const log: string[] = [];
    const failure = new Error('b cannot start');
    const group = new ComponentGroup();
    group.add(fake('a', log, { failClose: new Error('a cannot close') }));
    group.add(fake('b', log, { failStart: failure }));
    await assert.rejects(group.start(), (error) => error === failure);
    assert.deepEqual(log, ['start a', 'start b', 'close a']);
  });

  test('close() twice closes each component once and returns the same promise', async () => {
    const log: string[] = [];
    const group = new ComponentGroup();
    group.add(fake('a', log));
    group.add(fake('b', log));
    await group.start();
    const first = group.close();
    const second = group.close();
    assert.equal(first, second);
    await first;
    await group.close();
    assert.deepEqual(log, ['start a', 'start b', 'close b', 'close a']);
  });

  test('close() closes every component even when one fails, then reports the failure', async () => {
    const log: string[] = [];
    const failure = new Error('b cannot close');
    const group = new ComponentGroup();
    group.add(fake('a', log));
    group.add(fake('b', log, { failClose: failure }));
    group.add(fake('c', log));
    await group.start();
    await assert.rejects(group.close(), (error) => error === failure);
    assert.deepEqual(log.slice(3), ['close c', 'close b', 'close a']);
  });

  test('several close failures are reported together', async () => {
    const log: string[] = [];
    const first = new Error('a cannot close');
    const second = new Error('b cannot close');
    const group = new ComponentGroup();
    group.add(fake('a', log, { failClose: first }));
    group.add(fake('b', log, { failClose: second }));
    await group.start();
    await assert.rejects(group.close(), (error) => {
      assert.ok(error instanceof AggregateError);
      assert.deepEqual(error.errors, [second, first]);
      return true;
    });
  });

  test('startOne() starts at once, is not started again by start(), and closes with the group', async () => {
    const log: string[] = [];
    const group = new ComponentGroup();
    await group.startOne(fake('early', log));
    assert.deepEqual(log, ['start early']);
    group.add(fake('late', log));
    await group.start();
    await group.close();
    assert.deepEqual(log, ['start early', 'start late', 'close late', 'close early']);
  });

  test('destroy() reaches every started component in reverse order, even if one throws', async () => {
    const log: string[] = [];
    const group = new ComponentGroup();
    group.add(fake('a', log));
    group.add(fake('b', log, { failDestroy: new Error('b cannot be destroyed') }));
    group.add(fake('c', log));
    await group.start();
    assert.doesNotThrow(() => {
      group.destroy();
    });
    assert.deepEqual(log.slice(3), ['destroy c', 'destroy b', 'destroy a']);
  });

  test('destroy() during a close that hangs (a second signal) still reaches every component', async () => {
    const log: string[] = [];
    const group = new ComponentGroup();
    group.add(fake('a', log));
    const stuck = fake('b', log);
    stuck.close = () => {
      log.push('close b (hangs)');
      return new Promise<void>(() => undefined);
    };
    group.add(stuck);
    group.add(fake('c', log));
    await group.start();
    void group.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log.slice(3), ['close c', 'close b (hangs)']);
    group.destroy();
    assert.deepEqual(log.slice(5), ['destroy c', 'destroy b', 'destroy a']);
  });
});
