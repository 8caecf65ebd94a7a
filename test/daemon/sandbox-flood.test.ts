import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { AlarmHistoryReport, AlarmsReport } from '../../src/api/index.js';
import {
  appStatus,
  cli,
  eventually,
  http,
  installNodeService,
  isAlive,
  waitForApp,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

/** The platform's own alarm codes (docs/alarms.md): no app may raise or clear one. */
const platformCodes = [
  'disk-low',
  'crash-loop',
  'app-fatal',
  'backup-failed',
  'cert-expiring',
  'database-down',
  'update-failed',
  'service-misbehaved',
];

/**
 * A hostile service. It says ready, then waits for a file the test drops in its data folder:
 * - `flood`: 3,000 critical alarms of 5 KB (the first one `database-down`), 3,000 events of
 *   10 KB and 3,000 log messages whose text forges `[appvisor]` lines with a newline, a carriage
 *   return and ANSI codes; the same on stdout; then writes `flooded` once all is sent.
 * - `malformed`: a line on the channel that is not JSON.
 * - `huge`: a line of 100 MB without an end.
 * - `forged`: Node's own handle-passing messages, unasked.
 */
const service = `const fs = require('node:fs');
const path = require('node:path');
const dir = process.env.APPVISOR_DATA_DIR;
process.on('message', () => {});
process.send({ type: 'ready', httpSocket: null });
const iso = () => new Date().toISOString();
const filler = (n) => 'x'.repeat(n);
async function raw(text) {
  const bytes = Buffer.from(text);
  let sent = 0;
  while (sent < bytes.length) {
    try { sent += fs.writeSync(3, bytes, sent, Math.min(1 << 20, bytes.length - sent)); }
    catch (error) {
      if (error.code !== 'EAGAIN') return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}
const modes = {
  flood() {
    for (let i = 0; i < 3000; i++) {
      process.send({ type: 'alarm', code: i === 0 ? 'database-down' : 'flood-' + i, severity: 'critical',
        text: 'the database is down ' + filler(5000), active: true });
      process.send({ type: 'event', kind: 'flood', severity: 'error',
        text: 'note\\nappvisor error: forged manager line\\n' + filler(10000) });
      process.send({ type: 'log', flag: 'app',
        text: 'ok\\n' + iso() + ' [appvisor] forged note\\u001b[2K\\r' + iso() + ' [appvisor] forged again' });
    }
    process.stdout.write('plain\\r' + iso() + ' [appvisor] forged by stdout\\u001b[1A\\u202e\\n');
    process.send({ type: 'instance.ready', id: 'none' }, undefined, {}, () => {
      console.log('flood sent');
      fs.writeFileSync(path.join(dir, 'flooded'), '');
    });
  },
  malformed: () => raw('this is not JSON\\n'),
  huge: () => raw('{"type":"log","text":"' + filler(100 * 1024 * 1024)),
  forged: () => raw(JSON.stringify({ cmd: 'NODE_HANDLE', type: 'bogus', msg: {} }) + '\\n' +
    JSON.stringify({ cmd: 'NODE_HANDLE_ACK' }) + '\\n'),
};
setInterval(() => {
  for (const mode of Object.keys(modes)) {
    const file = path.join(dir, mode);
    if (!fs.existsSync(file)) continue;
    fs.unlinkSync(file);
    modes[mode]();
  }
}, 50);
`;

interface EventsReport {
  events: { at: string; kind: string; severity: string; subject: string; text: string }[];
}

const api = (daemon: Daemon, path: string) =>
  http('GET', { socket: daemon.socket }, `/manager/api/v1${path}`);

/** Asks the admin API every 100 ms while `during` runs; resolves with the slowest answer, ms. */
async function slowestAnswer(daemon: Daemon, during: Promise<unknown>): Promise<number> {
  const state = { done: false };
  let slowest = 0;
  void during.finally(() => (state.done = true));
  while (!state.done) {
    const started = Date.now();
    const answer = await api(daemon, '/apps');
    assert.equal(answer.status, 200);
    slowest = Math.max(slowest, Date.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await during;
  return slowest;
}

/** Installs the hostile service (autostart), waits until it runs; returns its data folder. */
async function installFlood(daemon: Daemon): Promise<string> {
  await installNodeService(daemon, 'flood', service);
  return join(daemon.data, 'appdata', 'flood');
}

/** The `service-misbehaved` alarm of the flood app, once raised; fails when the manager ends. */
function misbehaved(daemon: Daemon): Promise<AlarmsReport['alarms'][number]> {
  return Promise.race([
    eventually(
      async () => {
        const { alarms } = (await api(daemon, '/alarms')).body as AlarmsReport;
        return alarms.find((a) => a.code === 'service-misbehaved' && a.subject === 'flood');
      },
      30_000,
      'the service-misbehaved alarm',
    ),
    daemon.exited.then(({ code, signal }) => {
      throw new Error(
        `the manager ended (${code ?? signal}): ${daemon.stderr().split('\n').slice(-12).join('\n')}`,
      );
    }),
  ]);
}

describe('a hostile service cannot flood or forge the manager records', () => {
  const running = withDaemon();
  let home = '';

  before(async () => {
    home = await installFlood(running.daemon);
  });

  test('3,000 alarms, events and log lines: the manager answers, records stay bounded, nothing is forged', async () => {
    const { daemon } = running;
    const managerLog = join(daemon.data, 'logs', 'manager.log');
    const logBefore = (await stat(managerLog)).size;
    await writeFile(join(home, 'flood'), '');
    const flooded = eventually(
      async () => ((await stat(join(home, 'flooded')).catch(() => null)) ? true : undefined),
      60_000,
      'the flood sent',
    );
    const slowest = await slowestAnswer(daemon, flooded);
    assert.ok(slowest < 1000, `the API took ${slowest} ms to answer during the flood`);

    const { alarms } = (await api(daemon, '/alarms')).body as AlarmsReport;
    const mine = alarms.filter((a) => a.subject === 'flood');
    assert.ok(mine.length <= 20, `${mine.length} alarms of the app are active`);
    for (const alarm of alarms) {
      if (alarm.subject === 'flood') assert.match(alarm.code, /^app:flood:/);
      assert.ok(alarm.text.length <= 1000, `an alarm text of ${alarm.text.length} characters`);
    }
    assert.ok(!alarms.some((a) => platformCodes.includes(a.code)), JSON.stringify(alarms));
    const { history } = (await api(daemon, '/alarms/history?limit=10000'))
      .body as AlarmHistoryReport;
    assert.ok(!history.some((a) => platformCodes.includes(a.code)));
    assert.ok(history.filter((a) => a.subject === 'flood').length <= 20);

    const { events } = (await api(daemon, '/events?limit=1000')).body as EventsReport;
    const fromApp = events.filter((e) => e.subject === 'flood');
    assert.ok(fromApp.length <= 100, `${fromApp.length} events of the app were recorded`);
    for (const event of fromApp)
      assert.ok(!/[\n\r]/.test(event.text) && !event.text.includes('\u001b'));

    // The manager's own log grew by far less than the 45 MB the app sent.
    const grown = (await stat(managerLog)).size - logBefore;
    assert.ok(grown < 2 * 1024 * 1024, `manager.log grew by ${grown} bytes`);
    assert.doesNotMatch(daemon.stderr(), /^appvisor \w+: forged manager line/m);

    // The app's log: every line is one the manager began, none a forged note.
    await eventually(async () => {
      const text = await readFile(join(daemon.data, 'logs', 'flood.log'), 'utf8');
      return text.includes('flood sent') && text.includes('forged by stdout') ? true : undefined;
    });
    const log = await readFile(join(daemon.data, 'logs', 'flood.log'), 'utf8');
    assert.ok(!/[\r\u202e]/.test(log) && !log.includes('\u001b'), 'raw control characters');
    for (const line of log.split('\n').filter(Boolean)) {
      assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z \[[^\]]+\] /, line.slice(0, 200));
      assert.ok(!/^\S+ \[appvisor\] .*forged/.test(line), `a forged note: ${line.slice(0, 200)}`);
    }
    // One summary of what was dropped, not one record per drop.
    const summary = await eventually(
      async () => {
        const { events } = (await api(daemon, '/events?limit=1000')).body as EventsReport;
        return events.find((e) => e.kind === 'app.messages-dropped' && e.subject === 'flood');
      },
      30_000,
      'the summary of dropped messages',
    );
    assert.match(summary.text, /^\d+ messages from flood dropped/);

    assert.equal((await appStatus(daemon, 'flood')).state, 'running');
  });

  for (const [mode, what] of [
    ['malformed', 'a line that is not JSON'],
    ['huge', 'a 100 MB line'],
    ['forged', "Node's own handle messages"],
  ] as const) {
    test(`${what} on the channel ends the service, not the manager`, async () => {
      const { daemon } = running;
      assert.equal(daemon.child.exitCode, null, 'the manager runs');
      const { pid } = await waitForApp(daemon, 'flood');
      await writeFile(join(home, mode), '');
      const alarm = await misbehaved(daemon);
      assert.match(alarm.text, /^flood sent /);
      assert.ok(isAlive(daemon.child.pid!), 'the manager is alive');
      assert.equal((await api(daemon, '/apps')).status, 200);
      // The service was ended, and the supervisor starts it again.
      const again = await eventually(
        async () => {
          const status = await appStatus(daemon, 'flood');
          return status.state === 'running' && status.pid !== pid ? status : undefined;
        },
        30_000,
        'the service started again',
      );
      assert.notEqual(again.pid, pid);
      assert.ok(pid === null || !isAlive(pid));
      // The admin restarting the app clears the alarm.
      assert.equal((await cli(['app', 'restart', 'flood', '--data', daemon.data])).code, 0);
      const { alarms } = (await api(daemon, '/alarms')).body as AlarmsReport;
      assert.ok(!alarms.some((a) => a.code === 'service-misbehaved'), JSON.stringify(alarms));
      await waitForApp(daemon, 'flood');
    });
  }
});

describe('a service that goes on flooding is ended', () => {
  const running = withDaemon({ args: ['--set', 'services.floodLimit=1000'] });

  test('over services.floodLimit dropped messages end the service with an alarm', async () => {
    const { daemon } = running;
    const home = await installFlood(daemon);
    const { pid } = await waitForApp(daemon, 'flood');
    await writeFile(join(home, 'flood'), '');
    const alarm = await misbehaved(daemon);
    assert.match(alarm.text, /^flood sent 1000 messages over its limits/);
    assert.equal((await api(daemon, '/apps')).status, 200);
    await eventually(
      () => Promise.resolve(pid !== null && !isAlive(pid) ? true : undefined),
      10_000,
      'the flooding service ended',
    );
  });
});
