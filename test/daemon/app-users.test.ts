import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { AppStatus } from '../../src/api/index.js';
import { lookupUser, removeSystemUser } from '../../src/lib/os-users.js';
import { makeAppFolder } from '../helpers/apps.js';
import { storeClient } from '../helpers/database.js';
import {
  appStatus,
  cli,
  eventually,
  isAlive,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  stopQuietly,
  waitForApp,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { appProcessUid } from '../helpers/proc.js';

const isRoot = process.getuid?.() === 0;
const run = promisify(execFile);

/** The hashed user name appvisor 0.x gave an id that is not a plain lower-case one. */
function hashedName(id: string): string {
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `av-${id.toLowerCase().slice(0, 20)}-${hash}`;
}

async function install(daemon: Daemon, folder: string): Promise<void> {
  const done = await cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
  assert.equal(done.code, 0, done.stderr);
}

function uidOf(status: AppStatus): Promise<number> {
  return appProcessUid(status.pid!);
}

async function userNameOf(uid: number): Promise<string | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  return passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[2] === String(uid))?.[0];
}

/**
 * A service-less app that keeps a 0600 secret in its data folder and, every 0.2 s, tries to
 * read the secret of `other` next to it: `result` says `read` or `denied`.
 */
function prying(other: string): string {
  return [
    'umask 077',
    'echo "secret of $APPVISOR_APP_ID" > secret',
    "trap 'exit 0' TERM",
    'while true; do',
    `  if cat "../${other}/secret" > /dev/null 2>&1; then echo read > result; else echo denied > result; fi`,
    '  sleep 0.2 & wait $!',
    'done',
  ].join('\n');
}

describe(
  'apps: every app has a Unix user of its own',
  { skip: !isRoot && 'runs only as root' },
  () => {
    const running = withDaemon();

    test('ids whose user names collide get distinct users; uninstalling one keeps the other', async () => {
      const { daemon } = running;
      const first = 'SecUp';
      const second = 'secup-24307a1b';
      // The attack's premise: the second id's plain name is the first one's hashed name.
      assert.equal(hashedName(first), `av-${second}`);
      const work = await makeTemp();
      try {
        await install(daemon, await makeAppFolder(work, first, { run: prying(second) }));
        const one = await waitForApp(daemon, first);
        const secretFile = join(daemon.data, 'appdata', first, 'secret');
        await eventually(() => readFile(secretFile).catch(() => undefined), 10_000, 'a secret');

        await install(daemon, await makeAppFolder(work, second, { run: prying(first) }));
        const two = await waitForApp(daemon, second);
        const uidOne = await uidOf(one);
        const uidTwo = await uidOf(two);
        assert.notEqual(uidOne, 0);
        assert.notEqual(uidTwo, 0);
        assert.notEqual(uidOne, uidTwo, 'the two apps run as different users');
        const result = join(daemon.data, 'appdata', second, 'result');
        const tried = await eventually(
          () => readFile(result, 'utf8').catch(() => undefined),
          10_000,
          'an attempt to read the secret',
        );
        assert.equal(tried.trim(), 'denied', `${second} read the 0600 secret of ${first}`);

        const userTwo = await userNameOf(uidTwo);
        assert.ok(userTwo, 'the second app runs as a named user');
        const removed = await cli(['app', 'uninstall', first, '--data', daemon.data]);
        assert.equal(removed.code, 0, removed.stderr);
        assert.ok(await lookupUser(userTwo), `${userTwo} is still there`);
        const after = await appStatus(daemon, second);
        assert.equal(after.state, 'running');
        assert.equal(after.pid, two.pid, 'the other app was not restarted');
        assert.ok(isAlive(two.pid!));
        assert.equal(await uidOf(after), uidTwo);
        const cleaned = await cli(['app', 'uninstall', second, '--data', daemon.data]);
        assert.equal(cleaned.code, 0, cleaned.stderr);
        assert.equal(await lookupUser(userTwo), undefined, 'the last app took its user along');
      } finally {
        for (const id of [first, second]) {
          await cli(['app', 'uninstall', id, '--data', daemon.data]);
        }
        await removeTemp(work);
      }
    });

    test('concurrent installs of colliding ids never share a user', async () => {
      const { daemon } = running;
      const first = 'RaceUp';
      const second = hashedName(first).slice('av-'.length);
      const work = await makeTemp();
      try {
        const folders = [
          await makeAppFolder(work, first, { run: prying(second) }),
          await makeAppFolder(work, second, { run: prying(first) }),
        ];
        await Promise.all(folders.map((folder) => install(daemon, folder)));
        const uids = await Promise.all(
          [first, second].map(async (id) => uidOf(await waitForApp(daemon, id))),
        );
        assert.notEqual(uids[0], uids[1]);
      } finally {
        for (const id of [first, second]) {
          await cli(['app', 'uninstall', id, '--data', daemon.data]);
        }
        await removeTemp(work);
      }
    });

    test('an existing system account named like an app user is not adopted', async () => {
      const { daemon } = running;
      const id = 'adopt-me';
      // Made by "something else": the name an app with this id would get.
      await run('useradd', [
        '--system',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        `av-${id}`,
      ]);
      const work = await makeTemp();
      try {
        const foreign = (await lookupUser(`av-${id}`))!;
        await install(daemon, await makeAppFolder(work, id, { run: prying('nothing') }));
        const uid = await uidOf(await waitForApp(daemon, id));
        assert.notEqual(uid, foreign.uid, 'the app does not run as the foreign account');
        assert.notEqual(uid, 0);
        const removed = await cli(['app', 'uninstall', id, '--data', daemon.data]);
        assert.equal(removed.code, 0, removed.stderr);
        assert.deepEqual(
          await lookupUser(`av-${id}`),
          foreign,
          'the foreign account is left alone',
        );
      } finally {
        await cli(['app', 'uninstall', id, '--data', daemon.data]);
        await removeSystemUser(`av-${id}`);
        await removeTemp(work);
      }
    });
  },
);

describe(
  'apps that shared a user before store migration 6',
  { skip: !isRoot && 'runs only as root' },
  () => {
    test('get users of their own at the next start, their files with them', async () => {
      const data = await makeTemp();
      const work = await makeTemp();
      let daemon: Daemon | undefined = await startDaemon({ data });
      const users: string[] = [];
      try {
        await install(daemon, await makeAppFolder(work, 'OldUp', { run: prying('oldup-later') }));
        const first = await waitForApp(daemon, 'OldUp');
        await install(daemon, await makeAppFolder(work, 'oldup-later', { run: prying('OldUp') }));
        await waitForApp(daemon, 'oldup-later');
        const shared = (await lookupUser((await userNameOf(await uidOf(first)))!))!;
        users.push(shared.name);
        // What an older appvisor left: both rows name one user, who owns both data folders.
        const store = await storeClient(daemon);
        try {
          const own = await store.query<{ unix_user: string }>(
            "SELECT unix_user FROM apps WHERE id = 'oldup-later'",
          );
          users.push(own.rows[0]!.unix_user);
          await store.query('DROP INDEX apps_unix_user');
          await store.query('DELETE FROM schema_migrations WHERE version = 6');
          await store.query("UPDATE apps SET unix_user = $1 WHERE id = 'oldup-later'", [
            shared.name,
          ]);
          await store.query("UPDATE apps SET installed_at = now() WHERE id = 'oldup-later'");
        } finally {
          await store.end();
        }
        await daemon.stop();
        const later = join(data, 'appdata', 'oldup-later');
        await run('chown', ['-R', `${shared.uid}:${shared.gid}`, later]);

        daemon = await startDaemon({ data });
        const one = await waitForApp(daemon, 'OldUp');
        const two = await waitForApp(daemon, 'oldup-later');
        assert.equal(await uidOf(one), shared.uid, 'the first installed keeps the user');
        const uidTwo = await uidOf(two);
        users.push((await userNameOf(uidTwo))!);
        assert.notEqual(uidTwo, shared.uid, 'the later one has a user of its own');
        assert.notEqual(uidTwo, 0);
        for (const file of ['', 'secret', 'result']) {
          assert.equal(
            (await stat(join(later, file))).uid,
            uidTwo,
            `${file || 'the folder'} is its`,
          );
        }
        assert.equal((await stat(join(data, 'appdata', 'OldUp', 'secret'))).uid, shared.uid);
        const result = join(later, 'result');
        await eventually(
          async () => ((await readFile(result, 'utf8')).trim() === 'denied' ? true : undefined),
          10_000,
          "the later app denied the first one's secret",
        );
      } finally {
        await stopQuietly(daemon);
        await killAll(data);
        for (const name of new Set(users)) await removeSystemUser(name).catch(() => undefined);
        await removeTemp(data);
        await removeTemp(work);
      }
    });
  },
);
