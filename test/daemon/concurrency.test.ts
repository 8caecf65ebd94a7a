/**
 * The concurrency net: many instance creates (some of one id) and many backups of one
 * instance, all at once. Every answer is a success or a clear refusal, nothing hangs, nothing
 * is made twice. `APPVISOR_TEST_LONG=1` runs more of them, several rounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BackupEntry, ErrorBody, InstanceView } from '../../src/api/index.js';
import { storeClient } from '../helpers/database.js';
import { api, echoWithInstance, waitForInstance, withDaemon } from '../helpers/daemon.js';

const long = process.env.APPVISOR_TEST_LONG === '1';
const creates = long ? 100 : 20;
const backups = long ? 40 : 10;
const rounds = long ? 3 : 1;

/** Fails after `ms`: a deadlock shows as this, not as a test that never ends. */
function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} took over ${ms / 1000} s`));
    }, ms);
  });
  return Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
  });
}

describe('many operations at once', () => {
  const running = withDaemon();

  test(`${creates} instance creates (some of one id) and ${backups} backups of one instance at once`, async () => {
    const { daemon } = running;
    await echoWithInstance(daemon, 'base');
    const made = new Set<string>();
    const archives = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      // About one request in three repeats an id another one uses.
      const distinct = Math.ceil((creates * 2) / 3);
      const ids = Array.from({ length: creates }, (_, i) => `r${round}c${(i * 7) % distinct}`);
      const [created, backedUp] = await within(
        240_000,
        'the burst',
        Promise.all([
          Promise.all(
            ids.map((id) =>
              api(daemon, 'POST', '/instances', { app: 'echo', id, domain: 'example.com' }),
            ),
          ),
          Promise.all(
            Array.from({ length: backups }, () =>
              api(daemon, 'POST', '/backups', { instance: 'base' }),
            ),
          ),
        ]),
      );

      const wins = new Map<string, number>();
      created.forEach((answer, i) => {
        const id = ids[i]!;
        if (answer.status === 201) {
          assert.equal((answer.body as InstanceView).id, id);
          wins.set(id, (wins.get(id) ?? 0) + 1);
        } else {
          assert.equal(answer.status, 409, `${id}: ${JSON.stringify(answer.body)}`);
          assert.equal((answer.body as ErrorBody).code, 'INSTANCE_EXISTS');
        }
      });
      for (const id of new Set(ids)) {
        assert.equal(wins.get(id), 1, `${id} is created exactly once`);
        made.add(id);
      }
      for (const answer of backedUp) {
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
        const file = (answer.body as BackupEntry).file;
        assert.ok(!archives.has(file), `${file} is not written twice`);
        archives.add(file);
      }
    }

    const listed = ((await api(daemon, 'GET', '/instances')).body as { instances: InstanceView[] })
      .instances;
    const listedIds = listed.map((view) => view.id);
    assert.equal(new Set(listedIds).size, listedIds.length, 'no instance is listed twice');
    assert.deepEqual(listedIds.sort(), ['base', ...made].sort());
    assert.equal(new Set(listed.map((view) => view.path)).size, listed.length, 'no path twice');
    for (const id of made) await waitForInstance(daemon, id);

    const store = await storeClient(daemon);
    const rows = await store.query<{ provisioning: string; n: string }>(
      'SELECT provisioning, count(*) AS n FROM instances GROUP BY provisioning',
    );
    await store.end();
    assert.deepEqual(
      rows.rows.map((row) => [row.provisioning, Number(row.n)]),
      [['ready', made.size + 1]],
    );
    const server = await storeClient(daemon, 'postgres');
    const dbs = await server.query("SELECT datname FROM pg_database WHERE datname LIKE 'i\\_r%'");
    await server.end();
    assert.equal(dbs.rowCount, made.size, 'one database per instance');

    const listedBackups = (
      (await api(daemon, 'GET', '/backups?instance=base')).body as { backups: BackupEntry[] }
    ).backups;
    assert.equal(listedBackups.length, archives.size, 'every backup is a whole archive');
  });
});
