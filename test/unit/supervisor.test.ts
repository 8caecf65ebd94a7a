import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AppSupervisor,
  defaultRestartPolicy,
  restartDelayMs,
  transitions,
  type RestartPolicy,
  type SupervisorNotice,
} from '../../src/core/supervisor/index.js';
import { FakeClock, FakeLauncher } from './fake-process.js';

function setup(policy: Partial<RestartPolicy> = {}, graceMs = 5000) {
  const clock = new FakeClock();
  const launcher = new FakeLauncher();
  const notices: SupervisorNotice[] = [];
  const full = { ...defaultRestartPolicy, ...policy };
  const supervisor = new AppSupervisor({
    id: 'app',
    spec: () => ({ command: '/apps/app/run', args: [], cwd: '/appdata/app', env: {} }),
    policy: () => full,
    graceMs: () => graceMs,
    clock,
    launcher,
    random: () => 0.5, // no jitter
    notify: (notice) => notices.push(notice),
  });
  /** Starts and lets the process come up. */
  const run = () => {
    supervisor.start();
    launcher.last.spawned();
  };
  return { clock, launcher, notices, supervisor, run };
}

describe('supervisor state machine (fake clock and processes)', () => {
  test('start: starting until the process runs, then running', () => {
    const { supervisor, launcher } = setup();
    assert.equal(supervisor.start(), true);
    assert.equal(supervisor.state, 'starting');
    launcher.last.spawned();
    const status = supervisor.status();
    assert.equal(status.state, 'running');
    assert.equal(status.pid, 1000);
    assert.equal(status.startCount, 1);
    assert.equal(supervisor.start(), false, 'a start on a running app changes nothing');
    assert.equal(launcher.processes.length, 1);
  });

  test('exit 1 → backoff → restarted after the delay', () => {
    const { supervisor, launcher, clock, run } = setup();
    run();
    launcher.last.exit(1);
    let status = supervisor.status();
    assert.equal(status.state, 'backoff');
    assert.equal(status.lastExit?.kind, 'error');
    assert.equal(status.lastExit.code, 1);
    assert.equal(status.nextRestartAt, new Date(clock.time + 1000).toISOString());
    clock.advance(999);
    assert.equal(launcher.processes.length, 1, 'not before the delay');
    clock.advance(1);
    assert.equal(launcher.processes.length, 2);
    launcher.last.spawned();
    status = supervisor.status();
    assert.equal(status.state, 'running');
    assert.equal(status.restarts, 1);
    assert.equal(status.nextRestartAt, null);
  });

  test('delays double on quick failures up to the cap, and reset after a stable run', () => {
    const { launcher, clock, run, supervisor } = setup({
      delaySeconds: 1,
      maxDelaySeconds: 8,
      stableSeconds: 30,
    });
    run();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      launcher.last.exit(1);
      delays.push(Date.parse(supervisor.status().nextRestartAt!) - clock.time);
      clock.advance(delays.at(-1)!);
      launcher.last.spawned();
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
    clock.advance(30_000); // a stable run
    launcher.last.exit(1);
    assert.equal(Date.parse(supervisor.status().nextRestartAt!) - clock.time, 1000);
  });

  test('the delay has ±10 % jitter', () => {
    const policy = { ...defaultRestartPolicy, delaySeconds: 10 };
    assert.equal(
      restartDelayMs(policy, 1, () => 0),
      9000,
    );
    assert.equal(
      restartDelayMs(policy, 1, () => 0.999999),
      11000,
    );
    assert.equal(
      restartDelayMs({ ...policy, delaySeconds: 0 }, 5, () => 0.7),
      0,
    );
  });

  test('exit 0 ends the run: stopped, not restarted (policy on-failure)', () => {
    const { supervisor, launcher, clock, run } = setup();
    run();
    launcher.last.exit(0);
    assert.equal(supervisor.state, 'stopped');
    assert.equal(supervisor.status().lastExit?.kind, 'regular');
    clock.advance(3_600_000);
    assert.equal(launcher.processes.length, 1);
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  test('policy always restarts a regular exit; never restarts nothing; successCodes count as success', () => {
    const always = setup({ policy: 'always' });
    always.run();
    always.launcher.last.exit(0);
    assert.equal(always.supervisor.state, 'backoff');

    const never = setup({ policy: 'never' });
    never.run();
    never.launcher.last.exit(3);
    assert.equal(never.supervisor.state, 'stopped');
    assert.equal(never.supervisor.status().lastExit?.kind, 'error');

    const codes = setup({ successCodes: [0, 3] });
    codes.run();
    codes.launcher.last.exit(3);
    assert.equal(codes.supervisor.state, 'stopped');
  });

  test('killed by a signal nobody asked for: backoff, kind signal', () => {
    const { supervisor, launcher, run } = setup();
    run();
    launcher.last.exit(null, 'SIGSEGV');
    assert.equal(supervisor.state, 'backoff');
    assert.equal(supervisor.status().lastExit?.kind, 'signal');
    assert.equal(supervisor.status().lastExit?.signal, 'SIGSEGV');
  });

  test('stop: SIGTERM to the group; the exit is a stopped one', async () => {
    const { supervisor, launcher, run } = setup();
    run();
    const result = await supervisor.stop();
    assert.deepEqual(result, { changed: true });
    assert.deepEqual(launcher.last.signals.slice(0, 1), ['SIGTERM']);
    assert.equal(supervisor.state, 'stopped');
    assert.equal(supervisor.status().lastExit?.kind, 'stopped');
    assert.deepEqual(
      await supervisor.stop(),
      { changed: false },
      'a stop on a stopped app says so',
    );
  });

  test('stop of a process that ignores SIGTERM: SIGKILL after the grace time, kind killed', async () => {
    const { supervisor, launcher, clock, run } = setup({}, 5000);
    launcher.ignoreTerm = true;
    run();
    const stopped = supervisor.stop();
    assert.equal(supervisor.state, 'stopping');
    clock.advance(4999);
    assert.deepEqual(launcher.last.signals, ['SIGTERM']);
    clock.advance(1);
    await stopped;
    assert.equal(launcher.last.signals[1], 'SIGKILL');
    assert.equal(supervisor.state, 'stopped');
    assert.equal(supervisor.status().lastExit?.kind, 'killed');
  });

  test('stop during backoff cancels the restart', async () => {
    const { supervisor, launcher, clock, run } = setup();
    run();
    launcher.last.exit(1);
    assert.equal(supervisor.state, 'backoff');
    await supervisor.stop();
    assert.equal(supervisor.state, 'stopped');
    clock.advance(3_600_000);
    assert.equal(launcher.processes.length, 1);
  });

  test('a start during backoff starts at once', () => {
    const { supervisor, launcher, run } = setup({ delaySeconds: 60 });
    run();
    launcher.last.exit(1);
    assert.equal(supervisor.start(), true);
    assert.equal(launcher.processes.length, 2);
    assert.equal(supervisor.state, 'starting');
  });

  test('maxRetries reached: fatal with a notice; start clears it', () => {
    const { supervisor, launcher, clock, notices, run } = setup({ maxRetries: 2, delaySeconds: 1 });
    run();
    for (let i = 0; i < 2; i++) {
      launcher.last.exit(1);
      assert.equal(supervisor.state, 'backoff');
      clock.advance(10_000);
      launcher.last.spawned();
    }
    launcher.last.exit(1);
    assert.equal(supervisor.state, 'fatal');
    assert.ok(notices.some((n) => n.type === 'fatal' && n.raised));
    clock.advance(3_600_000);
    assert.equal(launcher.processes.length, 3, 'no restart after fatal');
    assert.equal(supervisor.start(), true);
    assert.ok(notices.some((n) => n.type === 'fatal' && !n.raised));
    launcher.last.spawned();
    assert.equal(supervisor.state, 'running');
  });

  test('five failures within ten minutes raise crash-loop once; a stable run clears it', () => {
    const { launcher, clock, notices, run } = setup({
      delaySeconds: 1,
      maxDelaySeconds: 1,
      stableSeconds: 30,
    });
    run();
    for (let i = 0; i < 7; i++) {
      launcher.last.exit(1);
      clock.advance(1000);
      launcher.last.spawned();
    }
    const raised = notices.filter((n) => n.type === 'crash-loop' && n.raised);
    assert.equal(raised.length, 1);
    clock.advance(30_000);
    assert.ok(notices.some((n) => n.type === 'crash-loop' && !n.raised));
  });

  test('the table: every way out of a run cancels its stable timer', () => {
    // A run that ends (exit, stop) must not be declared stable later by its old timer.
    for (const state of ['starting', 'running'] as const) {
      for (const [event, step] of Object.entries(transitions[state])) {
        if (step.next === 'starting' || step.next === 'running') continue;
        assert.ok(
          step.actions.includes('cancelStable'),
          `${state} × ${event} → ${step.next} must cancel the stable timer`,
        );
      }
    }
  });

  test('a stop leaves no timer behind', async () => {
    const { supervisor, clock, run } = setup();
    run();
    clock.advance(10_000);
    await supervisor.stop();
    assert.equal(clock.pending, 0, 'no stable (or other) timer left after the stop');
  });

  test('the stable timer of a stopped run does not clear the crash-loop of the next one', async () => {
    // Seen: 1.0.0 stopped for an update to a crashing 1.2.0; crash-loop raised, then cleared
    // "runs stably again" 30 s after the old run started, and the delay fell back to 1 s.
    const { supervisor, launcher, clock, notices, run } = setup({
      delaySeconds: 1,
      maxDelaySeconds: 60,
      stableSeconds: 30,
    });
    run();
    clock.advance(8_000);
    await supervisor.stop();
    supervisor.start();
    for (let i = 0; i < 5; i++) {
      launcher.last.spawned();
      launcher.last.exit(1);
      clock.advance(Date.parse(supervisor.status().nextRestartAt!) - clock.time);
    }
    assert.ok(notices.some((n) => n.type === 'crash-loop' && n.raised));
    // Past 30 s after the first run's start; the new process crashes at once each time.
    launcher.last.spawned();
    launcher.last.exit(1);
    assert.ok(clock.time > 1_000_000 + 30_000);
    assert.ok(
      !notices.some((n) => n.type === 'crash-loop' && !n.raised),
      'crash-loop is not cleared by a stale timer',
    );
    assert.equal(
      Date.parse(supervisor.status().nextRestartAt!) - clock.time,
      32_000,
      'the delay keeps growing',
    );
  });

  test('failures spread over more than ten minutes raise no crash-loop', () => {
    const { launcher, clock, notices, run } = setup({
      delaySeconds: 1,
      maxDelaySeconds: 1,
      stableSeconds: 3600,
    });
    run();
    for (let i = 0; i < 6; i++) {
      clock.advance(200_000);
      launcher.last.exit(1);
      clock.advance(1000);
      launcher.last.spawned();
    }
    assert.equal(notices.filter((n) => n.type === 'crash-loop').length, 0);
  });

  test('a process that cannot be started counts as a failure and is retried', () => {
    const { supervisor, launcher, clock } = setup();
    launcher.fail = true;
    supervisor.start();
    return Promise.resolve().then(() => {
      assert.equal(supervisor.state, 'backoff');
      assert.equal(supervisor.status().lastExit?.kind, 'error');
      launcher.fail = false;
      clock.advance(1000);
      launcher.last.spawned();
      assert.equal(supervisor.state, 'running');
    });
  });

  test('readiness by message: starting until ready() is called', () => {
    const clock = new FakeClock();
    const launcher = new FakeLauncher();
    const supervisor = new AppSupervisor({
      id: 'svc',
      spec: () => ({ command: 'run', args: [], cwd: '/', env: {} }),
      policy: () => defaultRestartPolicy,
      graceMs: () => 1000,
      readiness: () => 'message',
      clock,
      launcher,
    });
    supervisor.start();
    launcher.last.spawned();
    assert.equal(supervisor.state, 'starting');
    supervisor.ready();
    assert.equal(supervisor.state, 'running');
  });
  test('a stop plan of its own: each signal to the leader in turn, SIGKILL to the group last', async () => {
    const clock = new FakeClock();
    const launcher = new FakeLauncher();
    const supervisor = new AppSupervisor({
      id: 'database',
      spec: () => ({ command: 'postgres', args: [], cwd: '/', env: {} }),
      policy: () => defaultRestartPolicy,
      stopSignals: () => [
        { signal: 'SIGINT', graceMs: 15_000, to: 'leader' },
        { signal: 'SIGQUIT', graceMs: 5_000, to: 'leader' },
      ],
      clock,
      launcher,
    });
    supervisor.start();
    launcher.last.spawned();
    const stopped = supervisor.stop();
    assert.deepEqual(launcher.last.signals, ['leader:SIGINT']);
    clock.advance(14_999);
    assert.deepEqual(launcher.last.signals, ['leader:SIGINT']);
    clock.advance(1);
    assert.deepEqual(launcher.last.signals, ['leader:SIGINT', 'leader:SIGQUIT']);
    clock.advance(5_000);
    await stopped;
    // (then SIGKILL again to the strays of the group, as after any exit)
    assert.deepEqual(launcher.last.signals.slice(0, 3), [
      'leader:SIGINT',
      'leader:SIGQUIT',
      'SIGKILL',
    ]);
    assert.equal(supervisor.status().lastExit?.kind, 'killed');
    assert.equal(clock.pending, 0);

    // The next run starts its plan from the first step; one that ends on it is 'stopped'.
    supervisor.start();
    launcher.last.endsOn = ['SIGINT'];
    launcher.last.spawned();
    await supervisor.stop();
    assert.deepEqual(launcher.last.signals.slice(0, 1), ['leader:SIGINT']);
    assert.equal(supervisor.status().lastExit?.kind, 'stopped');
    assert.equal(clock.pending, 0);
  });

  test('destroy sends the given last signal (SIGKILL to the group by default)', () => {
    const { supervisor, launcher, run } = setup();
    run();
    supervisor.destroy({ signal: 'SIGQUIT', to: 'leader' });
    assert.deepEqual(launcher.last.signals, ['leader:SIGQUIT']);
    const other = setup();
    other.run();
    other.supervisor.destroy();
    assert.deepEqual(other.launcher.last.signals.slice(0, 1), ['SIGKILL']);
  });
});
