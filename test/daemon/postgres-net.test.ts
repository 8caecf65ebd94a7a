/**
 * The net "PostgreSQL dies": `kill -9` of the postmaster, again and again, while instances and
 * the store are busy. Each round: the manager lives, restarts the server, raises and clears
 * `database-down`, the front answers 503 with Retry-After on an instance page while the server
 * is away and 200 after, and every instance is ready again.
 *
 * `npm test` runs a few rounds at a fixed seed; `APPVISOR_TEST_LONG=1` runs 20 (the restart
 * delay doubles after each death within a minute, up to 30 s: that mode takes about ten
 * minutes). `APPVISOR_TEST_SEED=n` repeats another run's kill times.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AlarmsReport, InstanceView } from '../../src/api/index.js';
import { appStatus, echoWithInstance, http, withDaemon, type Daemon } from '../helpers/daemon.js';
import {
  assertAlive,
  busyLoop,
  databaseBack,
  installAlarmer,
  killPostmaster,
  newTally,
  seededRandom,
  whileAlive,
} from '../helpers/postgres.js';

const long = process.env.APPVISOR_TEST_LONG === '1';
const rounds = long ? 20 : 3;
const seed = Number(process.env.APPVISOR_TEST_SEED ?? 20260417);
const api = '/manager/api/v1';
const instances = ['n1', 'n2', 'n3'];

interface EventsReport {
  events: { at: string; kind: string; subject: string }[];
}

/**
 * Whether the event log shows `database-down` raised and cleared since `since` (ISO time). The
 * newest 1,000 events are read: the alarmer makes about 10 a second, a round lasts less than
 * a minute.
 */
async function raisedAndCleared(daemon: Daemon, since: string): Promise<string> {
  const { events } = (await http('GET', { socket: daemon.socket }, `${api}/events?limit=1000`))
    .body as EventsReport;
  const recent = events.filter((event) => event.at >= since);
  const has = (kind: string) => recent.some((event) => event.kind === kind);
  return `raised ${has('alarm.raised.database-down')}, cleared ${has('alarm.cleared.database-down')}`;
}

/** GET or POST of an echo instance's counter, through the front. */
const count = (daemon: Daemon, id: string, method = 'GET') =>
  http(method, { url: daemon.httpUrl }, `/example.com/${id}/count`);

describe(`PostgreSQL dies ${rounds} times while instances and the store are busy`, () => {
  const running = withDaemon({
    args: ['--set', 'services.alarms.perSecond=100', '--set', 'services.alarms.burst=100'],
  });

  test(`seed ${seed}: the manager lives, restarts it, and everything is ready again`, async (t) => {
    t.diagnostic(`seed ${seed}, ${rounds} rounds (APPVISOR_TEST_SEED, APPVISOR_TEST_LONG=1)`);
    const random = seededRandom(seed);
    const daemon = running.daemon;
    const socket = { socket: daemon.socket };
    await echoWithInstance(daemon, instances[0]!);
    for (const id of instances.slice(1)) await echoWithInstance(daemon, id, false);
    await installAlarmer(daemon, 100);

    // The services are not restarted for a database restart.
    const servicePids = {
      echo: (await appStatus(daemon, 'echo')).pid,
      alarmer: (await appStatus(daemon, 'alarmer')).pid,
    };
    const stop = { done: false };
    const tally = newTally();
    const loops = [
      // The store: settings and alarm writes (the alarmer), and reads of instances.
      busyLoop(stop, tally, [200, 503], (n) =>
        http('PATCH', socket, `${api}/settings`, { body: { label: `busy ${n}` } }),
      ),
      busyLoop(stop, tally, [200, 503], () => http('GET', socket, `${api}/alarms/history?limit=5`)),
      // The instances: each one counts hits in its own database. Anything but a 500 is fine
      // here; the answers during the outage are checked below.
      ...instances.map((id) =>
        busyLoop(stop, tally, [200, 503], () => count(daemon, id, 'POST'), 10),
      ),
    ];

    try {
      for (let round = 1; round <= rounds; round++) {
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(random() * 1500)));
        const killedAt = new Date().toISOString();
        const killed = await killPostmaster(daemon);
        const pageId = instances[round % instances.length]!;

        // While the server is away, the instance's page says so: 503 with Retry-After, from
        // the front (echo's own page needs no database: without the front it would be 200).
        let last = '';
        const outage = await whileAlive(
          daemon,
          async () => {
            const answer = await http('GET', { url: daemon.httpUrl }, `/example.com/${pageId}/`);
            last = `${answer.status} ${answer.text.slice(0, 200)}`;
            return answer.status === 503 ? answer : undefined;
          },
          {
            timeoutMs: 30_000,
            everyMs: 20,
            what: `a 503 from ${pageId} in round ${round}`,
            last: () => last,
          },
        );
        assert.ok(outage.headers['retry-after'], JSON.stringify(outage.headers));
        assert.equal((outage.body as { code: string }).code, 'DATABASE_UNAVAILABLE', outage.text);

        const back = await databaseBack(daemon, round);
        assert.notEqual(back.database.pid, killed);
        let counted = '';
        await whileAlive(
          daemon,
          async () => {
            counted = await raisedAndCleared(daemon, killedAt);
            const { alarms } = (await http('GET', socket, `${api}/alarms`)).body as AlarmsReport;
            const active = alarms.some((alarm) => alarm.code === 'database-down');
            counted += `, active ${active}`;
            return counted === 'raised true, cleared true, active false' ? true : undefined;
          },
          {
            timeoutMs: 30_000,
            what: `database-down raised and cleared in round ${round}`,
            last: () => counted,
          },
        );
        // Every instance is ready again and serves its page from its database.
        for (const id of instances) {
          let seen = '';
          await whileAlive(
            daemon,
            async () => {
              const view = (await http('GET', socket, `${api}/instances/${id}`))
                .body as InstanceView;
              seen = `state ${view.state}`;
              if (view.state !== 'ready') return undefined;
              const answer = await count(daemon, id);
              seen = `${answer.status} ${answer.text.slice(0, 200)}`;
              return answer.status === 200 ? answer : undefined;
            },
            {
              timeoutMs: 60_000,
              what: `${id} ready and serving after round ${round}`,
              last: () => seen,
            },
          );
        }
        t.diagnostic(`round ${round}: postmaster ${killed} killed; back as ${back.database.pid}`);
      }
    } finally {
      stop.done = true;
      await Promise.all(loops);
    }
    assertAlive(daemon);
    assert.deepEqual(
      {
        echo: (await appStatus(daemon, 'echo')).pid,
        alarmer: (await appStatus(daemon, 'alarmer')).pid,
      },
      servicePids,
    );
    t.diagnostic(`answers by status: ${JSON.stringify([...tally.byStatus])}`);
    assert.deepEqual(tally.unexpected, []);
  });
});
