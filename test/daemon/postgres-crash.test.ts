/**
 * Issue 17, part 1: a PostgreSQL restart killed the manager about one time in four (a store
 * transaction's client had no 'error' listener while checked out). The postmaster is killed
 * during a loop of writes to the store: settings, instance creates and deletes, alarms.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { echoWithInstance, http, withDaemon } from '../helpers/daemon.js';
import {
  assertAlive,
  busyLoop,
  databaseBack,
  installAlarmer,
  killPostmaster,
  newTally,
} from '../helpers/postgres.js';

const api = '/manager/api/v1';

describe('PostgreSQL is killed during a loop of writes', () => {
  const running = withDaemon({
    args: ['--set', 'services.alarms.perSecond=100', '--set', 'services.alarms.burst=100'],
  });

  test('the manager lives, answers 503 meanwhile, and writes work again after', async (t) => {
    const daemon = running.daemon;
    const socket = { socket: daemon.socket };
    await echoWithInstance(daemon, 'steady');
    await installAlarmer(daemon, 20);

    const stop = { done: false };
    const tally = newTally();
    // 200 or 201 when the store answers, 503 DATABASE_UNAVAILABLE while it does not; never 500.
    const loops = [
      ...[0, 1, 2, 3].map((k) =>
        busyLoop(stop, tally, [200, 503], (n) =>
          http('PATCH', socket, `${api}/settings`, { body: { label: `writer ${k} ${n}` } }),
        ),
      ),
      // 409: the id is still there (its delete answered 503 before).
      busyLoop(stop, tally, [200, 201, 404, 409, 503], async (n) => {
        const id = `w${n % 4}`;
        const created = await http('POST', socket, `${api}/instances`, {
          body: { app: 'echo', id, domain: 'example.com' },
        });
        if (created.status !== 201) return created;
        return http('DELETE', socket, `${api}/instances/${id}`);
      }),
    ];

    await new Promise((resolve) => setTimeout(resolve, 1500));
    await killPostmaster(daemon);
    await databaseBack(daemon, 1);
    // A little more of the writes against the restarted server.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stop.done = true;
    await Promise.all(loops);
    assertAlive(daemon);

    const seen = JSON.stringify([...tally.byStatus]);
    t.diagnostic(`answers by status: ${seen}`);
    assert.deepEqual(tally.unexpected, [], `answers by status: ${seen}`);
    assert.ok((tally.byStatus.get(200) ?? 0) > 0, seen);

    // The store takes writes again, through the same pool.
    const patched = await http('PATCH', socket, `${api}/settings`, { body: { label: 'after' } });
    assert.equal(patched.status, 200, patched.text);
    const created = await http('POST', socket, `${api}/instances`, {
      body: { app: 'echo', id: 'later', domain: 'example.com' },
    });
    assert.equal(created.status, 201, created.text);
    const listed = (await http('GET', socket, `${api}/instances`)).body as {
      instances: { id: string; state: string }[];
    };
    t.diagnostic(`instances: ${JSON.stringify(listed.instances.map((i) => [i.id, i.state]))}`);
    assertAlive(daemon);
  });
});
