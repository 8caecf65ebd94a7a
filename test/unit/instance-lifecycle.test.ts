import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  InstanceLifecycle,
  instanceTransitions,
  shownState,
  type InstanceEvent,
  type ObservedState,
} from '../../src/core/instances/lifecycle.js';
import type { Clock } from '../../src/core/supervisor/index.js';

/** Timers that fire only when the test moves time on. */
function fakeTime() {
  let now = 0;
  let pending: { due: number; run: () => void }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (run, ms) => {
      const timer = { due: now + ms, run };
      pending.push(timer);
      return timer;
    },
    clearTimeout: (handle) => {
      pending = pending.filter((timer) => timer !== handle);
    },
  };
  const pass = (ms: number): void => {
    now += ms;
    const due = pending.filter((timer) => timer.due <= now);
    pending = pending.filter((timer) => timer.due > now);
    for (const timer of due) timer.run();
  };
  return { clock, pass, timers: () => pending.length };
}

/** One instance's lifecycle over a fake service and event log. */
function setup(options: { enabled?: boolean; hosted?: boolean } = {}) {
  const time = fakeTime();
  const sent: string[] = [];
  const failures: string[] = [];
  const service = { hosted: options.hosted ?? true };
  const lifecycle = new InstanceLifecycle({
    id: 'acme',
    enabled: options.enabled ?? true,
    clock: time.clock,
    startTimeoutMs: 30_000,
    effects: {
      hosted: () => service.hosted,
      sendStart: () => sent.push('instance.start'),
      sendStop: () => sent.push('instance.stop'),
      recordFailure: (event, error) => failures.push(`${event}: ${error}`),
    },
  });
  return { ...time, sent, failures, service, lifecycle };
}

const states = Object.keys(instanceTransitions) as ObservedState[];

describe('instance lifecycle table', () => {
  test('every way out of starting cancels the deadline; every way into it arms one', () => {
    for (const state of states) {
      for (const [event, step] of Object.entries(instanceTransitions[state])) {
        if (state === 'starting' && step.next !== 'starting') {
          assert.ok(step.actions.includes('cancelDeadline'), `${state} × ${event}`);
        }
        if (step.next === 'starting' && event === 'host') {
          assert.deepEqual(step.actions, ['sendStart', 'armDeadline'], `${state} × ${event}`);
        }
      }
    }
  });

  test('hosting needs the instance enabled and its service running, in every state', () => {
    for (const state of states) {
      assert.deepEqual(instanceTransitions[state].host?.when, { enabled: true, hosted: true });
    }
  });

  test('a stop keeps the state until the answer; the service going always ends in stopped', () => {
    for (const state of states) {
      const stop = instanceTransitions[state].stop;
      if (stop) assert.equal(stop.next, state);
      const gone = instanceTransitions[state].gone;
      assert.ok(gone, state);
      assert.equal(gone.next, 'stopped');
      assert.ok(gone.actions.includes('releaseStop'));
    }
  });

  test('a failure is recorded only for a starting or ready instance', () => {
    const recorded = states.flatMap((state) =>
      (
        Object.entries(instanceTransitions[state]) as [
          InstanceEvent,
          { actions: readonly string[] },
        ][]
      )
        .filter(([, step]) => step.actions.includes('recordFailure'))
        .map(([event]) => `${state} × ${event}`),
    );
    assert.deepEqual(recorded.sort(), [
      'ready × failed',
      'starting × deadline',
      'starting × failed',
    ]);
  });

  test('the shown state: disabled only for a stopped instance the admin disabled', () => {
    assert.equal(shownState('stopped', 'disabled'), 'disabled');
    assert.equal(shownState('stopped', 'enabled'), 'stopped');
    assert.equal(shownState('ready', 'disabled'), 'ready');
  });
});

describe('instance lifecycle (fake clock and service)', () => {
  test('host: starting, then ready on the answer; since follows the shown state', () => {
    const { lifecycle, sent, pass, timers } = setup();
    assert.equal(lifecycle.state, 'stopped');
    pass(5);
    assert.ok(lifecycle.dispatch('host'));
    assert.equal(lifecycle.state, 'starting');
    assert.equal(lifecycle.since.getTime(), 5);
    assert.deepEqual(sent, ['instance.start']);
    pass(5);
    assert.ok(lifecycle.dispatch('ready'));
    assert.equal(lifecycle.state, 'ready');
    assert.equal(lifecycle.since.getTime(), 10);
    assert.equal(timers(), 0, 'the deadline is cancelled');
    assert.equal(lifecycle.dispatch('ready'), false, 'a second ready changes nothing');
  });

  test('no answer in time: failed with the reason, recorded once; a late ready is ignored', () => {
    const { lifecycle, pass, failures } = setup();
    lifecycle.dispatch('host');
    pass(29_999);
    assert.equal(lifecycle.state, 'starting');
    pass(1);
    assert.equal(lifecycle.state, 'failed');
    assert.equal(lifecycle.error, 'instance acme did not answer within 30 s');
    assert.deepEqual(failures, ['deadline: instance acme did not answer within 30 s']);
    assert.equal(lifecycle.dispatch('ready'), false);
    assert.equal(lifecycle.dispatch('failed', 'again'), false, 'a failed one cannot fail again');
    assert.equal(failures.length, 1);
  });

  test('a host again re-arms the deadline: only the last start counts', () => {
    const { lifecycle, pass, sent } = setup();
    lifecycle.dispatch('host');
    pass(20_000);
    lifecycle.dispatch('host');
    pass(20_000);
    assert.equal(lifecycle.state, 'starting');
    assert.deepEqual(sent, ['instance.start', 'instance.start']);
    pass(10_000);
    assert.equal(lifecycle.state, 'failed');
  });

  test("the service's failure of a ready instance is recorded; of a stopped one, ignored", () => {
    const { lifecycle, failures } = setup();
    assert.equal(lifecycle.dispatch('failed', 'boom'), false);
    lifecycle.dispatch('host');
    lifecycle.dispatch('ready');
    assert.ok(lifecycle.dispatch('failed', 'boom'));
    assert.equal(lifecycle.error, 'boom');
    assert.deepEqual(failures, ['failed: boom']);
    lifecycle.dispatch('host');
    assert.equal(lifecycle.error, null, 'a new start clears the error');
  });

  test('disabled, or without a running service: nothing is hosted', () => {
    const disabled = setup({ enabled: false });
    assert.equal(disabled.lifecycle.state, 'disabled');
    assert.equal(disabled.lifecycle.dispatch('host'), false);
    assert.equal(disabled.lifecycle.dispatch('folderFailed', 'x'), false);
    disabled.lifecycle.setDesired(true);
    assert.equal(disabled.lifecycle.state, 'stopped');
    assert.ok(disabled.lifecycle.dispatch('host'));

    const alone = setup({ hosted: false });
    assert.equal(alone.lifecycle.dispatch('host'), false);
    assert.deepEqual(alone.sent, []);
  });

  test('stop: waits for the answer, then stopped (disabled when the admin disabled it)', async () => {
    const { lifecycle, sent } = setup();
    lifecycle.dispatch('host');
    lifecycle.dispatch('ready');
    lifecycle.setDesired(false);
    assert.equal(lifecycle.state, 'ready', 'running until it stops');
    const stopping = lifecycle.stop();
    assert.deepEqual(sent, ['instance.start', 'instance.stop']);
    assert.equal(lifecycle.state, 'ready');
    lifecycle.dispatch('stopped');
    await stopping;
    assert.equal(lifecycle.state, 'disabled');
  });

  test('stop of a service that does not answer: stopped after the wait', async () => {
    const { lifecycle, pass } = setup();
    lifecycle.dispatch('host');
    const stopping = lifecycle.stop();
    pass(9_999);
    assert.equal(lifecycle.observed, 'starting');
    pass(1);
    await stopping;
    assert.equal(lifecycle.state, 'stopped');
  });

  test('stop of a stopped instance, or without a service: nothing sent, no wait', async () => {
    const { lifecycle, sent, service } = setup();
    await lifecycle.stop();
    lifecycle.dispatch('host');
    service.hosted = false;
    await lifecycle.stop();
    assert.deepEqual(sent, ['instance.start']);
    assert.equal(lifecycle.state, 'stopped');
  });

  test('the service going: stopped, and a stop waiting for it ends', async () => {
    const { lifecycle, timers } = setup();
    lifecycle.dispatch('host');
    const stopping = lifecycle.stop();
    lifecycle.dispatch('gone');
    await stopping;
    assert.equal(lifecycle.state, 'stopped');
    assert.equal(timers(), 0, 'no deadline or wait left behind');
  });

  test('a data folder that cannot be prepared: failed with the reason, not recorded', () => {
    const { lifecycle, failures } = setup();
    assert.ok(lifecycle.dispatch('folderFailed', 'its data folder cannot be prepared: EACCES'));
    assert.equal(lifecycle.state, 'failed');
    assert.equal(lifecycle.error, 'its data folder cannot be prepared: EACCES');
    assert.deepEqual(failures, []);
  });
});
