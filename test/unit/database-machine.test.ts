/**
 * The database server's table (machine.ts), its supervised postmaster and the database-down
 * alarm policy, with a fake clock, fake processes and a fake connection probe: no PostgreSQL.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AlarmRaiser } from '../../src/core/alarms/index.js';
import {
  databaseTransition,
  Postmaster,
  ServerMachine,
  watchDatabaseDown,
  type DatabaseStateChange,
} from '../../src/core/database/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { FakeClock, FakeLauncher } from './fake-process.js';

const running = { desired: 'running', process: true } as const;

describe('the database server table', () => {
  test('start, ready, down, ready again: starting, running, restarting, running', () => {
    const machine = new ServerMachine();
    const changes: DatabaseStateChange[] = [];
    machine.onChange((change) => changes.push(change));
    assert.equal(machine.dispatch('ready'), false, 'a stopped server is not made ready');
    machine.dispatch('start');
    assert.equal(machine.desired, 'running');
    machine.dispatch('ready');
    machine.dispatch('down', { reason: 'postgres exited (signal SIGKILL)' });
    assert.equal(machine.dispatch('down'), false, 'down while restarting changes nothing');
    machine.dispatch('ready');
    assert.deepEqual(changes, [
      { state: 'starting', previous: 'stopped' },
      { state: 'running', previous: 'starting' },
      { state: 'restarting', previous: 'running', reason: 'postgres exited (signal SIGKILL)' },
      { state: 'running', previous: 'restarting' },
    ]);
  });

  test('a stop waits for the process; without one it is over at once', () => {
    const embedded = new ServerMachine();
    embedded.dispatch('start');
    embedded.dispatch('ready');
    embedded.dispatch('stop', { process: true });
    assert.equal(embedded.state, 'stopping');
    assert.equal(embedded.desired, 'stopped');
    assert.equal(embedded.dispatch('ready'), false, 'a probe under way does not revive it');
    embedded.dispatch('gone');
    assert.equal(embedded.state, 'stopped');

    const external = new ServerMachine();
    external.dispatch('start');
    external.dispatch('ready');
    external.dispatch('down');
    external.dispatch('stop');
    assert.equal(external.state, 'stopped');
    assert.equal(external.dispatch('ready'), false);
  });

  test('guards: ready and down count only while the server is wanted', () => {
    assert.equal(databaseTransition('running', 'down', running), 'restarting');
    assert.equal(
      databaseTransition('running', 'down', { ...running, desired: 'stopped' }),
      undefined,
    );
    assert.equal(databaseTransition('restarting', 'ready', running), 'running');
    assert.equal(databaseTransition('starting', 'down', running), undefined, 'start() reports it');
    assert.equal(
      databaseTransition('restarting', 'stop', { ...running, process: false }),
      'stopped',
    );
    assert.equal(databaseTransition('restarting', 'stop', running), 'stopping');
  });

  test('since moves with the state', () => {
    let now = 1_000;
    const machine = new ServerMachine(() => now);
    now = 5_000;
    machine.dispatch('start');
    assert.equal(machine.since, new Date(5_000).toISOString());
  });
});

/** Flushes promise callbacks (the probe loop's). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup(options: { startTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const launcher = new FakeLauncher();
  launcher.endsOn = ['SIGINT'];
  const machine = new ServerMachine(() => clock.now());
  const server = { accepting: false, probes: 0 };
  const alarms: string[] = [];
  const raiser: Pick<AlarmRaiser, 'raise' | 'clear'> = {
    raise: (code) => alarms.push(`raise ${code}`),
    clear: (code) => alarms.push(`clear ${code}`),
  };
  const postmaster = new Postmaster({
    spec: () => ({ command: 'postgres', args: [], cwd: '/pg', env: {} }),
    probe: () => {
      server.probes++;
      return server.accepting
        ? Promise.resolve('18.1')
        : Promise.reject(new Error('connection refused'));
    },
    machine,
    logger: createLogger({ level: 'silent', file: { write: () => undefined } }),
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    clock,
    launcher,
  });
  const database = {
    get state() {
      return machine.state;
    },
    onStateChange: machine.onChange.bind(machine),
  };
  const downAlarm = watchDatabaseDown(database, raiser);
  /** Lets the current process run and accept connections. */
  const comeUp = async () => {
    launcher.last.spawned();
    server.accepting = true;
    await settle();
    clock.advance(100);
    await settle();
  };
  /** The running server dies; the next start is `delay` ms later. */
  const dieAndRestart = async (delay: number) => {
    server.accepting = false;
    launcher.last.exit(null, 'SIGKILL');
    assert.equal(machine.state, 'restarting');
    const count = launcher.processes.length;
    clock.advance(delay - 1);
    assert.equal(launcher.processes.length, count, `not restarted before ${delay} ms`);
    clock.advance(1);
    assert.equal(launcher.processes.length, count + 1, `restarted after ${delay} ms`);
    await comeUp();
    assert.equal(machine.state, 'running');
  };
  return { clock, launcher, machine, server, alarms, postmaster, downAlarm, comeUp, dieAndRestart };
}

describe('the embedded server under the supervisor (fakes)', () => {
  test('ready once it accepts connections; restarted when it dies, with the alarm', async () => {
    const { launcher, machine, server, alarms, postmaster, comeUp, dieAndRestart } = setup();
    const started = postmaster.start();
    assert.equal(machine.state, 'starting');
    launcher.last.spawned();
    await settle();
    assert.equal(machine.state, 'starting', 'not ready before it accepts connections');
    assert.ok(server.probes >= 1);
    await comeUp();
    await started;
    assert.equal(machine.state, 'running');
    assert.equal(postmaster.pid, 1000);
    assert.equal(postmaster.version, '18.1');

    await dieAndRestart(1000);
    assert.equal(postmaster.restarts, 1);
    assert.equal(postmaster.pid, 1001);
    assert.deepEqual(alarms, ['raise database-down', 'clear database-down']);
  });

  test('delays: 1 s doubling up to 30 s while it dies within a minute; 1 s again after', async () => {
    const { clock, postmaster, comeUp, dieAndRestart } = setup();
    const started = postmaster.start();
    await comeUp();
    await started;
    for (const delay of [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]) {
      await dieAndRestart(delay);
    }
    assert.equal(postmaster.restarts, 7);
    clock.advance(60_000);
    await dieAndRestart(1000);
  });

  test('a restart that fails to come up is retried with the next delay, state restarting', async () => {
    const { launcher, machine, postmaster, comeUp, clock } = setup();
    const started = postmaster.start();
    await comeUp();
    await started;
    launcher.last.exit(null, 'SIGKILL');
    clock.advance(1000);
    launcher.last.spawned();
    launcher.last.exit(1);
    assert.equal(machine.state, 'restarting');
    clock.advance(1999);
    assert.equal(launcher.processes.length, 2);
    clock.advance(1);
    assert.equal(launcher.processes.length, 3);
    await comeUp();
    assert.equal(machine.state, 'running');
    assert.equal(postmaster.restarts, 2);
  });

  test('a first start that exits fails the start, and is not restarted', async () => {
    const { launcher, clock, postmaster } = setup();
    const started = postmaster.start();
    launcher.last.spawned();
    launcher.last.exit(1);
    await assert.rejects(started, /exited during start/);
    clock.advance(3_600_000);
    assert.equal(launcher.processes.length, 1);
    assert.equal(clock.pending, 0);
  });

  test('a first start that does not accept connections in time is shut down and fails', async () => {
    const { launcher, clock, postmaster } = setup({ startTimeoutMs: 1000 });
    launcher.endsOn = [];
    const started = postmaster.start();
    launcher.last.spawned();
    for (let i = 0; i < 12; i++) {
      await settle();
      clock.advance(100);
    }
    await settle();
    assert.deepEqual(launcher.last.signals, ['leader:SIGINT']);
    clock.advance(15_000);
    assert.deepEqual(launcher.last.signals, ['leader:SIGINT', 'leader:SIGQUIT']);
    clock.advance(5_000);
    await assert.rejects(started, /did not accept connections within 1000 ms: connection refused/);
    assert.equal(launcher.processes.length, 1);
  });

  test('stop: fast shutdown of the postmaster, stopping then stopped, no restart', async () => {
    const { launcher, clock, machine, postmaster, comeUp, alarms } = setup();
    const started = postmaster.start();
    await comeUp();
    await started;
    const states: string[] = [];
    machine.onChange((change) => states.push(change.state));
    await postmaster.stop();
    assert.deepEqual(launcher.last.signals.slice(0, 1), ['leader:SIGINT']);
    assert.deepEqual(states, ['stopping', 'stopped']);
    clock.advance(3_600_000);
    assert.equal(launcher.processes.length, 1);
    assert.deepEqual(alarms, []);
  });

  test('stop while it waits to be restarted: stopped at once', async () => {
    const { launcher, clock, machine, postmaster, comeUp } = setup();
    const started = postmaster.start();
    await comeUp();
    await started;
    launcher.last.exit(null, 'SIGKILL');
    await postmaster.stop();
    assert.equal(machine.state, 'stopped');
    clock.advance(3_600_000);
    assert.equal(launcher.processes.length, 1);
  });

  test('destroy: immediate shutdown (SIGQUIT to the postmaster)', async () => {
    const { launcher, postmaster, comeUp } = setup();
    const started = postmaster.start();
    await comeUp();
    await started;
    postmaster.destroy();
    assert.deepEqual(launcher.last.signals, ['leader:SIGQUIT']);
  });

  test('the alarm a previous manager left is cleared once the server runs', async () => {
    const { postmaster, comeUp, alarms, downAlarm } = setup();
    downAlarm.reconcile();
    assert.deepEqual(alarms, [], 'not while it is not running');
    const started = postmaster.start();
    await comeUp();
    await started;
    downAlarm.reconcile();
    assert.deepEqual(alarms, ['clear database-down']);
  });
});
