import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AppStatus } from '../../src/core/apps/index.js';
import {
  operationTransition,
  operationTransitions,
  StoreOperations,
  waitReady,
  type OperationEvent,
  type OperationPhase,
  type ReadinessWatch,
} from '../../src/core/appstore/index.js';
import { AppvisorError } from '../../src/core/errors/index.js';

const phases = Object.keys(operationTransitions) as OperationPhase[];
const events: OperationEvent[] = ['backUp', 'install', 'wait', 'rollBack', 'succeed', 'fail'];

/** Feeds the table events from a phase; answers the phase reached (a pair with no effect stays). */
function run(from: OperationPhase, ...steps: OperationEvent[]): OperationPhase {
  return steps.reduce((phase, event) => operationTransition(phase, event)?.next ?? phase, from);
}

describe('store operation table', () => {
  test('an install, an update, an update not waited for, a rolled-back update', () => {
    assert.equal(run('downloading', 'install', 'succeed'), 'done');
    assert.equal(run('downloading', 'backUp', 'install', 'wait', 'succeed'), 'done');
    assert.equal(run('downloading', 'backUp', 'install', 'succeed'), 'done');
    assert.equal(run('downloading', 'backUp', 'install', 'wait', 'rollBack', 'fail'), 'failed');
  });

  test('done and failed are final', () => {
    for (const phase of ['done', 'failed'] as const) {
      for (const event of events) assert.equal(operationTransition(phase, event), undefined);
    }
  });

  test('every phase that is not final can fail, and failing stamps the end and the error', () => {
    for (const phase of phases.filter((p) => p !== 'done' && p !== 'failed')) {
      assert.deepEqual(operationTransition(phase, 'fail'), {
        next: 'failed',
        actions: ['stampFinish', 'recordError'],
      });
    }
  });

  test('a rollback never ends as done, and is only ever after the wait (or begun again)', () => {
    assert.equal(operationTransition('rolling-back', 'succeed'), undefined);
    const into = phases.filter((p) => operationTransition(p, 'rollBack') !== undefined);
    assert.deepEqual(into.sort(), ['rolling-back', 'waiting']);
  });

  test('done is reached only by succeeding, from installing or waiting', () => {
    for (const phase of phases) {
      for (const event of events) {
        const step = operationTransition(phase, event);
        if (step?.next !== 'done') continue;
        assert.equal(event, 'succeed');
        assert.ok(phase === 'installing' || phase === 'waiting', phase);
      }
    }
  });

  test('nothing goes back to downloading or backing-up from a later phase', () => {
    for (const phase of phases) {
      for (const event of events) {
        const next = operationTransition(phase, event)?.next;
        if (next === 'downloading') assert.fail(`${phase} ${event} goes back to downloading`);
        if (next === 'backing-up') assert.equal(phase, 'downloading');
      }
    }
  });
});

describe('store operations', () => {
  /** A clock that moves only when the test says so. */
  const clock = { time: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => new Date(clock.time);
  const version = { version: '2.0.0', build: 2, size: 100 };

  test('phases change through the table; a finished operation stays as it ended', () => {
    const operations = new StoreOperations(now);
    const op = operations.begin('update', 'blog', version);
    assert.equal(op.phase, 'downloading');
    assert.ok(operations.advance(op, 'backUp'));
    assert.ok(operations.advance(op, 'install'));
    assert.ok(operations.advance(op, 'wait'));
    assert.ok(operations.advance(op, 'rollBack'));
    assert.equal(op.rolledBack, true);
    clock.time += 1000;
    operations.finish(op, new AppvisorError('UPDATE_FAILED', 'rolled back'));
    assert.equal(op.phase, 'failed');
    assert.deepEqual(op.error, { store: '', code: 'UPDATE_FAILED', message: 'rolled back' });
    assert.equal(op.finishedAt, now().toISOString());
    assert.equal(operations.advance(op, 'succeed'), false);
    assert.equal(op.phase, 'failed');
  });

  test('an event with no effect in the phase is refused and changes nothing', () => {
    const operations = new StoreOperations(now);
    const op = operations.begin('install', 'blog', version);
    assert.equal(operations.advance(op, 'wait'), false);
    assert.equal(operations.advance(op, 'succeed'), false);
    assert.equal(op.phase, 'downloading');
    assert.equal(op.finishedAt, null);
  });

  test('a finished operation is listed for 10 minutes, an unfinished one until it ends', () => {
    const operations = new StoreOperations(now);
    const finished = operations.begin('install', 'blog', version);
    operations.advance(finished, 'install');
    operations.finish(finished);
    operations.begin('update', 'wiki', version, 'rolling-back');
    clock.time += 10 * 60_000;
    assert.deepEqual(
      operations.list().map((op) => `${op.app} ${op.phase}`),
      ['blog done', 'wiki rolling-back'],
    );
    clock.time += 1;
    assert.deepEqual(
      operations.list().map((op) => op.app),
      ['wiki'],
    );
  });
});

/** An app and its instances whose states the test sets, telling the watchers of each change. */
class FakeApp implements ReadinessWatch {
  state: AppStatus['state'] = 'starting';
  pid: number | null = 10;
  instances: { id: string; enabled: boolean; state: string; error: string | null }[] = [];
  reads = 0;
  readonly #listeners = new Set<(app: string) => void>();

  status(app: string): Promise<AppStatus> {
    this.reads++;
    const status = {
      id: app,
      state: this.state,
      pid: this.pid,
      restarts: 0,
      lastExit: null,
    } as unknown as AppStatus;
    return Promise.resolve(status);
  }
  instancesOf(): ReturnType<ReadinessWatch['instancesOf']> {
    return this.instances as ReturnType<ReadinessWatch['instancesOf']>;
  }
  onChange(listener: (app: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  get watchers(): number {
    return this.#listeners.size;
  }
  change(app = 'blog'): void {
    for (const listener of this.#listeners) listener(app);
  }
}

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('waiting for an updated app (events, no polling)', () => {
  test('ready once the app runs, every enabled instance is ready, and it stays so', async () => {
    const app = new FakeApp();
    app.instances = [
      { id: 'one', enabled: true, state: 'starting', error: null },
      { id: 'off', enabled: false, state: 'stopped', error: null },
    ];
    const waiting = waitReady(app, 'blog', 5000, 50);
    await later(20);
    app.state = 'running';
    app.change();
    app.change('another-app');
    await later(20);
    app.instances[0]!.state = 'ready';
    app.change();
    assert.equal(await waiting, null);
    assert.equal(app.watchers, 0);
    // One look at the start, one per change of this app, one when the settle time is over.
    assert.ok(app.reads <= 4, `${app.reads} reads`);
  });

  test('a settle timer that ends before the wall clock reads its end still ends the wait', async (t) => {
    const app = new FakeApp();
    app.state = 'running';
    const realNow = Date.now.bind(Date);
    const waiting = waitReady(app, 'blog', 5000, 50);
    await later(10);
    // The wall clock is set back (or a timer fires a moment early): when the settle timer ends,
    // the clock still reads a moment before its end. That is no reason to look again.
    t.mock.method(Date, 'now', () => realNow() - 20);
    assert.equal(await waiting, null);
    assert.equal(app.reads, 2, 'one look at the start, one when the settle time is over');
  });

  test('a new process while settling starts the settle time again', async () => {
    const app = new FakeApp();
    app.state = 'running';
    const started = Date.now();
    const waiting = waitReady(app, 'blog', 5000, 80);
    await later(50);
    app.pid = 11;
    app.change();
    assert.equal(await waiting, null);
    assert.ok(Date.now() - started >= 125, `${Date.now() - started} ms`);
  });

  test('an app that ends, or an instance that fails, is wrong at once', async () => {
    const app = new FakeApp();
    const waiting = waitReady(app, 'blog', 5000, 50);
    app.state = 'backoff';
    app.change();
    assert.equal(await waiting, 'the app ended and is backoff');

    const other = new FakeApp();
    other.state = 'running';
    other.instances = [{ id: 'one', enabled: true, state: 'starting', error: null }];
    const failing = waitReady(other, 'blog', 5000, 50);
    other.instances[0]!.state = 'failed';
    other.instances[0]!.error = 'no database';
    other.change();
    assert.equal(await failing, 'instance(s) one failed (no database)');
  });

  test('nothing happens: one look at the deadline says what is not ready', async () => {
    const app = new FakeApp();
    app.state = 'running';
    app.instances = [{ id: 'one', enabled: true, state: 'starting', error: null }];
    const started = Date.now();
    assert.equal(
      await waitReady(app, 'blog', 600, 50),
      'instance(s) one (starting) not ready after 0.6 s',
    );
    assert.ok(Date.now() - started >= 590);
    assert.equal(app.reads, 2);
    assert.equal(app.watchers, 0);
  });

  test('a status that cannot be read ends the wait with its error', async () => {
    const app = new FakeApp();
    app.status = () => Promise.reject(new AppvisorError('APP_NOT_FOUND', 'gone'));
    await assert.rejects(waitReady(app, 'blog', 5000, 50), /gone/);
    assert.equal(app.watchers, 0);
  });
});
