/**
 * App stores end to end: a store is a folder of packages plus the apps.json that `appvisor
 * store build` writes, served by a plain static HTTP server in this test (which can also
 * misbehave: stall, cut off, answer 500 or junk). The manager lists, installs and updates from
 * it, refuses what does not verify, and rolls a failed update back with its instances' data.
 */
import assert from 'node:assert/strict';
import { access, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type {
  ActiveAlarm,
  StoreAppView,
  StoreListing,
  StoreResult,
  UpdateCheck,
} from '../../src/api/index.js';
import {
  buildStoreFolder,
  makeStorePackage,
  StaticStore,
  storeKeygen,
} from '../helpers/app-store.js';
import {
  appStatus,
  cli,
  eventually,
  http,
  makeTemp,
  waitForApp,
  waitForInstance,
  withDaemon,
} from '../helpers/daemon.js';
import { onTerminal, readable } from '../helpers/terminal.js';

/** A service hosting instances; the broken variant damages data and dies at start. */
function notesMain(version: string, broken: boolean): string {
  return `import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const { createService } = await import(process.env.APPVISOR_SDK);
createService({
  async start(instance) {
    await instance.db.query('CREATE TABLE IF NOT EXISTS notes (text text NOT NULL)');
    if (${broken}) {
      await instance.db.query('ALTER TABLE notes ADD COLUMN IF NOT EXISTS migrated boolean');
      await instance.db.query("INSERT INTO notes (text) VALUES ('written by the broken version')");
      await writeFile(join(instance.dataDir, 'broken-was-here'), 'x');
      process.exit(3);
    }
    return {
      async http(request, response) {
        const url = new URL(request.url, 'http://x');
        const text = url.searchParams.get('add');
        if (text) await instance.db.query('INSERT INTO notes (text) VALUES ($1)', [text]);
        const notes = await instance.db.query('SELECT text FROM notes ORDER BY text');
        const columns = await instance.db.query(
          "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' ORDER BY 1",
        );
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({
          version: ${JSON.stringify(version)},
          notes: notes.rows.map((r) => r.text),
          columns: columns.rows.map((r) => r.column_name),
        }));
      },
    };
  },
});
`;
}

async function notesPackage(
  folder: string,
  file: string,
  version: string,
  build: number,
  options: { broken?: boolean; label?: string } = {},
): Promise<string> {
  return makeStorePackage(
    join(folder, file),
    'notes',
    {
      version,
      build,
      title: 'Notes',
      description: `Notes, version ${version}`,
      instances: true,
      ...(options.label ? { label: options.label } : {}),
      restart: { delaySeconds: 0.3, maxDelaySeconds: 1 },
    },
    {
      script: '#!/bin/sh\nexec "${APPVISOR_NODE:-node}" "$APPVISOR_APP_DIR/main.mjs"\n',
      files: [{ name: 'main.mjs', content: notesMain(version, options.broken ?? false) }],
    },
  );
}

describe('app stores', () => {
  const running = withDaemon({
    args: [
      '--set',
      'apps.stopGraceSeconds=2',
      '--set',
      'appstore.stallSeconds=2',
      '--set',
      // Long: a new version that fails must be rolled back at once, not after this.
      'appstore.updateTimeoutSeconds=90',
      '--set',
      'backup.updateKeep=2',
    ],
  });
  let work: string;
  let storeDir: string;
  let key: string;
  let publicKey: string;
  let server: StaticStore;

  const run = (...args: string[]) => cli([...args, '--data', running.daemon.data]);
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await run(...args, '--json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as T;
  };
  const build = () => buildStoreFolder(storeDir, key);
  const notesOf = async (instance: string, query = '') => {
    const answer = await http(
      'GET',
      { url: running.daemon.httpUrl },
      `/example.com/${instance}/${query}`,
    );
    assert.equal(answer.status, 200, answer.text);
    return answer.body as { version: string; notes: string[]; columns: string[] };
  };
  const alarms = async () =>
    (
      (await http('GET', { socket: running.daemon.socket }, '/manager/api/v1/alarms')).body as {
        alarms: ActiveAlarm[];
      }
    ).alarms;
  const leftovers = async () =>
    (await readdir(join(running.daemon.data, 'apps'))).filter((name) => name.startsWith('.'));

  before(async () => {
    work = await makeTemp();
    storeDir = join(work, 'store');
    await mkdir(storeDir);
    key = join(work, 'store.key');
    publicKey = await storeKeygen(key);
    assert.equal((await stat(key)).mode & 0o777, 0o600);
    server = new StaticStore(storeDir);
    await server.start();
  });
  after(async () => {
    await server.close();
  });

  test('an app store needs a trusted key unless unsigned packages are allowed', async () => {
    const refused = await run('store', 'add', 'main', server.url());
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error APPSTORE_INVALID: .*public key/m);
    const bad = await run('store', 'add', 'main', server.url(), '--key', 'not-a-key');
    assert.match(bad.stderr, /^error APPSTORE_INVALID: /m);
    const ftp = await run('store', 'add', 'main', 'ftp://127.0.0.1/apps.json', '--key', publicKey);
    assert.match(ftp.stderr, /^error APPSTORE_INVALID: .*http or https/m);
    const added = await run('store', 'add', 'main', server.url(), '--key', publicKey);
    assert.equal(added.code, 0, added.stderr);
    const sources = await json<{ name: string; url: string }[]>('store', 'sources');
    assert.deepEqual(
      sources.map((s) => [s.name, s.url]),
      [['main', server.url()]],
    );
  });

  test('list and install the newest build, with its label', async () => {
    await notesPackage(storeDir, 'notes-1.0.0.tar.gz', '1.0.0', 1);
    await build();
    const listing = await json<StoreListing>('store', 'list');
    assert.deepEqual(listing.errors, []);
    assert.equal(listing.apps.length, 1);
    const [notes] = listing.apps;
    assert.equal(notes!.id, 'notes');
    assert.equal(notes!.title, 'Notes');
    assert.deepEqual(notes!.latest, {
      version: '1.0.0',
      build: 1,
      label: 'final',
      size: (await stat(join(storeDir, 'notes-1.0.0.tar.gz'))).size,
      signed: true,
    });
    assert.equal(notes!.installed, null);

    // On a terminal, the package sent in two halves a second apart: its download shows.
    server.faults.set('notes-1.0.0.tar.gz', 'slow');
    const installed = await onTerminal([
      ...['store', 'install', 'notes', '--autostart'],
      ...['--data', running.daemon.data],
    ]);
    server.faults.clear();
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /^notes 1\.0\.0 \(1\) installed/);
    const lines = readable(installed.stderr);
    assert.match(
      lines,
      /\r<erase>\[\d+s\] install of notes 1\.0\.0 \(1\): downloading [\d.]+ \S+ of [\d.]+ \S+ \(\d+%\)/,
    );
    assert.ok(lines.endsWith('\r<erase>'), lines);
    await waitForApp(running.daemon, 'notes');
    const created = await run('instance', 'create', 'notes', 'n1', '--domain', 'example.com');
    assert.equal(created.code, 0, created.stderr);
    await waitForInstance(running.daemon, 'n1');
    await notesOf('n1', '?add=kept%20note');
    assert.deepEqual(await notesOf('n1'), {
      version: '1.0.0',
      notes: ['kept note'],
      columns: ['text'],
    });
    const shown = await json<StoreAppView>('store', 'show', 'notes');
    assert.deepEqual(shown.installed, { version: '1.0.0', build: 1, store: 'main' });
    assert.equal(shown.updateAvailable, false);
    assert.deepEqual(await leftovers(), []);
  });

  test('a new build that crashes at start is rolled back, instances and data as before', async () => {
    await notesPackage(storeDir, 'notes-2.0.0.tar.gz', '2.0.0', 2, {
      broken: true,
      label: 'beta',
    });
    await build();
    const check = await json<UpdateCheck>('store', 'check');
    assert.deepEqual(
      check.updates.map((u) => [u.app, u.available.version, u.available.label]),
      [['notes', '2.0.0', 'beta']],
    );
    const status = await run('status');
    assert.match(status.stdout, /updates\s+notes 2\.0\.0 \(beta\)/);

    const started = Date.now();
    const updated = await run('store', 'update', 'notes');
    assert.equal(updated.code, 1, updated.stdout);
    assert.match(updated.stderr, /^error UPDATE_FAILED: .*rolled back to 1\.0\.0/m);
    assert.ok(Date.now() - started < 45_000, 'rolled back as soon as the new version failed');

    const app = await appStatus(running.daemon, 'notes');
    assert.equal(app.version, '1.0.0');
    assert.equal(app.state, 'running');
    await waitForInstance(running.daemon, 'n1');
    // The broken version's column, row and file are gone: the backup was restored.
    assert.deepEqual(await notesOf('n1'), {
      version: '1.0.0',
      notes: ['kept note'],
      columns: ['text'],
    });
    await assert.rejects(
      access(join(running.daemon.data, 'appdata', 'notes', 'n1', 'broken-was-here')),
    );
    const active = await alarms();
    const alarm = active.find((a) => a.code === 'update-failed' && a.subject === 'notes');
    assert.ok(alarm, JSON.stringify(active));
    assert.match(alarm.text, /did not get ready/);
    assert.deepEqual(await leftovers(), []);
  });

  test('an update to a good build keeps the data and clears the alarm', async () => {
    await notesPackage(storeDir, 'notes-3.0.0.tar.gz', '3.0.0', 3);
    await build();
    const updated = await json<StoreResult>('store', 'update', 'notes');
    assert.equal(updated.changed, true);
    assert.deepEqual(updated.from, { version: '1.0.0', build: 1 });
    assert.deepEqual(updated.to, { version: '3.0.0', build: 3 });
    await waitForInstance(running.daemon, 'n1');
    assert.deepEqual(await notesOf('n1'), {
      version: '3.0.0',
      notes: ['kept note'],
      columns: ['text'],
    });
    await eventually(
      async () => !(await alarms()).some((a) => a.code === 'update-failed') || undefined,
      10_000,
      'update-failed cleared',
    );
    const again = await run('store', 'update', 'notes');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /notes is at 3\.0\.0 \(3\) already/);
    const none = await run('store', 'update', '--all');
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /every app is up to date/);
  });

  test('a downgrade is refused unless forced', async () => {
    const refused = await run('store', 'update', 'notes', '--version', '1.0.0');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error DOWNGRADE_REFUSED: notes build 3 .*older/m);
    assert.equal((await appStatus(running.daemon, 'notes')).version, '3.0.0');
    const forced = await json<StoreResult>('store', 'update', 'notes', '--version', '1', '--force');
    assert.deepEqual(forced.to, { version: '1.0.0', build: 1 });
    await waitForInstance(running.daemon, 'n1');
    assert.equal((await notesOf('n1')).version, '1.0.0');
  });

  test("backups made before an update have their own names and retention, never the schedule's slots", async () => {
    const backupsDir = join(running.daemon.data, 'backups');
    const slotted = await run('backup', 'schedule', '--template', '#A/#I-#bn.tar', '--slots', '2');
    assert.equal(slotted.code, 0, slotted.stderr);
    for (let i = 0; i < 2; i++) {
      const made = await run('backup', 'create', 'n1');
      assert.equal(made.code, 0, made.stderr);
    }
    const slots = (await readdir(join(backupsDir, 'notes'))).filter((n) => /^n1-\d+\.tar$/.test(n));
    assert.equal(slots.length, 2);
    const times = () =>
      Promise.all(slots.map(async (n) => (await stat(join(backupsDir, 'notes', n))).mtimeMs));
    const before = await times();
    for (const version of ['3', '1']) {
      const updated = await run('store', 'update', 'notes', '--version', version, '--force');
      assert.equal(updated.code, 0, updated.stderr);
      await waitForInstance(running.daemon, 'n1');
    }
    assert.deepEqual(await times(), before, 'the scheduled backups are as they were');
    const kept = await readdir(join(backupsDir, 'notes', 'before-update'));
    assert.equal(kept.filter((n) => n.startsWith('n1-')).length, 2, 'backup.updateKeep=2 kept');
    const reset = await run('backup', 'schedule', '--template', '#A/#I-#d.tar');
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal((await appStatus(running.daemon, 'notes')).version, '1.0.0');
  });

  test('a package whose bytes do not match its sha256 is refused, nothing installed', async () => {
    const path = await notesPackage(storeDir, 'notes-4.0.0.tar.gz', '4.0.0', 4);
    await build();
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(path, bytes);
    const refused = await run('store', 'update', 'notes');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error PACKAGE_DIGEST_MISMATCH: .*sha256/m);
    assert.equal((await appStatus(running.daemon, 'notes')).version, '1.0.0');
    assert.deepEqual(await leftovers(), []);
  });

  test('a download that stalls or is cut off installs nothing', async () => {
    await notesPackage(storeDir, 'notes-4.0.0.tar.gz', '4.0.0', 4);
    await build();
    for (const [fault, reason] of [
      ['stall', /stalled/],
      ['cut', /broke off|ended after/],
    ] as const) {
      server.faults.set('notes-4.0.0.tar.gz', fault);
      const started = Date.now();
      const failed = await run('store', 'update', 'notes');
      assert.equal(failed.code, 1, failed.stdout);
      assert.match(failed.stderr, /^error APPSTORE_UNREACHABLE: package /m);
      assert.match(failed.stderr, reason);
      if (fault === 'stall') assert.ok(Date.now() - started < 30_000);
      assert.equal((await appStatus(running.daemon, 'notes')).version, '1.0.0');
      assert.deepEqual(await leftovers(), []);
    }
    server.faults.clear();
  });

  test('a bad signature is refused: of the index, and of a package', async () => {
    const otherKey = join(work, 'other.key');
    await storeKeygen(otherKey);
    // The index signed with a key the manager does not trust.
    const resigned = await cli(['store', 'sign', join(storeDir, 'apps.json'), '--key', otherKey]);
    assert.equal(resigned.code, 0, resigned.stderr);
    const listing = await json<StoreListing>('store', 'list');
    assert.deepEqual(
      listing.errors.map((e) => [e.store, e.code]),
      [['main', 'SIGNATURE_INVALID']],
    );
    const update = await run('store', 'update', 'notes');
    assert.match(
      update.stderr,
      /^error SIGNATURE_INVALID: .*app store main: .*not one of the trusted/m,
    );
    const warned = await run('store', 'list');
    assert.match(warned.stderr, /warning: app store main: SIGNATURE_INVALID/);

    // A correctly signed index whose package signature is another key's.
    await build();
    const index = JSON.parse(await readFile(join(storeDir, 'apps.json'), 'utf8')) as {
      apps: { versions: { build: number; signature?: string }[] }[];
    };
    const forged = join(work, 'forged');
    await mkdir(forged);
    const copy = join(forged, 'notes-4.0.0.tar.gz');
    await writeFile(copy, await readFile(join(storeDir, 'notes-4.0.0.tar.gz')));
    await buildStoreFolder(forged, otherKey);
    const forgedIndex = JSON.parse(await readFile(join(forged, 'apps.json'), 'utf8')) as {
      apps: { versions: { signature?: string }[] }[];
    };
    index.apps[0]!.versions.find((v) => v.build === 4)!.signature =
      forgedIndex.apps[0]!.versions[0]!.signature;
    await writeFile(join(storeDir, 'apps.json'), JSON.stringify(index));
    const signed = await cli(['store', 'sign', join(storeDir, 'apps.json'), '--key', key]);
    assert.equal(signed.code, 0, signed.stderr);
    const shown = await json<StoreAppView>('store', 'show', 'notes');
    assert.equal(shown.versions.find((v) => v.build === 4)!.signed, false);
    assert.equal(shown.versions.find((v) => v.build === 3)!.signed, true);
    const refused = await run('store', 'update', 'notes');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error SIGNATURE_INVALID: notes 4\.0\.0 from main/m);
    assert.equal((await appStatus(running.daemon, 'notes')).version, '1.0.0');
  });

  test('a store that answers 500 or junk is a clear error; the others still list', async () => {
    await build();
    server.faults.set('junk.json', 'junk');
    server.faults.set('down.json', 500);
    for (const [name, file] of [
      ['junk', 'junk.json'],
      ['down', 'down.json'],
    ]) {
      // Unsigned allowed: the answer itself, not its missing signature, is what is wrong.
      const added = await run('store', 'add', name!, server.url(file), '--allow-unsigned');
      assert.equal(added.code, 0, added.stderr);
    }
    const listing = await json<StoreListing>('store', 'list');
    assert.deepEqual(
      listing.apps.map((a) => a.id),
      ['notes'],
    );
    assert.deepEqual(listing.errors.map((e) => [e.store, e.code]).sort(), [
      ['down', 'APPSTORE_UNREACHABLE'],
      ['junk', 'APPSTORE_INDEX_INVALID'],
    ]);
    const down = await run('store', 'install', 'other', '--store', 'down');
    assert.match(down.stderr, /^error APPSTORE_UNREACHABLE: .*the index .*HTTP 500/m);
    const junk = await run('store', 'install', 'other', '--store', 'junk');
    assert.match(
      junk.stderr,
      /^error APPSTORE_INDEX_INVALID: .*app store junk: apps\.json is not valid JSON/m,
    );
    for (const name of ['junk', 'down']) assert.equal((await run('store', 'remove', name)).code, 0);
    const badId = await run('store', 'install', '../etc');
    assert.match(badId.stderr, /^error INVALID_APP_ID: /m);
    const missing = await run('store', 'show', 'nothing-here');
    assert.match(missing.stderr, /^error APPSTORE_APP_NOT_FOUND: no app store lists nothing-here/m);
    const gone = await run('store', 'remove', 'junk');
    assert.match(gone.stderr, /^error APPSTORE_NOT_FOUND: /m);
  });

  test('a store that allows unsigned packages installs them', async () => {
    const plainDir = join(work, 'store', 'plain');
    await mkdir(plainDir);
    const hello = join(plainDir, 'hello.tar.gz');
    await makeStorePackage(
      hello,
      'hello',
      { version: '0.1', build: 7 },
      { script: '#!/bin/sh\nexec sleep 600\n' },
    );
    const built = await buildStoreFolder(plainDir);
    assert.match(built, /1 app\(s\), 1 package\(s\), unsigned/);
    const added = await run(
      'store',
      'add',
      'plain',
      server.url('plain/apps.json'),
      '--allow-unsigned',
    );
    assert.equal(added.code, 0, added.stderr);
    // Two installs at once: one does it, the other finds it done.
    const both = await Promise.all([
      json<StoreResult>('store', 'install', 'hello', '--autostart'),
      json<StoreResult>('store', 'install', 'hello', '--autostart'),
    ]);
    assert.deepEqual(both.map((r) => r.changed).sort(), [false, true]);
    for (const installed of both) assert.deepEqual(installed.to, { version: '0.1', build: 7 });
    await waitForApp(running.daemon, 'hello');
    assert.equal((await json<StoreAppView>('store', 'show', 'hello')).latest.signed, false);
  });

  test('an update of an app without instances that exits as soon as it starts is rolled back', async () => {
    const plainDir = join(work, 'store', 'plain');
    await makeStorePackage(
      join(plainDir, 'hello-0.2.tar.gz'),
      'hello',
      { version: '0.2', build: 8, restart: { delaySeconds: 0.3, maxDelaySeconds: 1 } },
      { script: '#!/bin/sh\nexit 3\n' },
    );
    await buildStoreFolder(plainDir);
    const started = Date.now();
    const updated = await run('store', 'update', 'hello');
    assert.ok(Date.now() - started < 45_000, 'rolled back as soon as the new version ended');
    assert.equal(updated.code, 1, updated.stdout);
    assert.match(updated.stderr, /^error UPDATE_FAILED: .*rolled back to 0\.1/m);
    const app = await appStatus(running.daemon, 'hello');
    assert.equal(app.version, '0.1');
    assert.equal(app.state, 'running');
  });

  test('status tells the updates of a store right after it is added', async () => {
    // notes 1.0.0 came from main, which offers 4.0.0; hello 0.1 from plain, which offers 0.2.
    const updatesLine = async () => /^updates\s+(.*)$/m.exec((await run('status')).stdout)?.[1];
    assert.equal((await run('store', 'remove', 'main')).code, 0);
    await json<UpdateCheck>('store', 'check');
    const without = await updatesLine();
    assert.match(without ?? '', /hello 0\.2/);
    assert.doesNotMatch(without ?? '', /notes/);
    const added = await run('store', 'add', 'main', server.url(), '--key', publicKey);
    assert.equal(added.code, 0, added.stderr);
    const right = await updatesLine();
    assert.notEqual(right, without, 'not what was found without the store');
    const listing = await json<StoreListing>('store', 'list');
    assert.equal(listing.apps.find((a) => a.id === 'notes')?.updateAvailable, true);
    assert.match((await updatesLine()) ?? '', /notes 4\.0\.0/);
  });
});
