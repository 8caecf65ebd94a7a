/**
 * App store trust: an installed app is pinned to the store (and key) it came from, so another
 * store listing the same id cannot take it over; and a signed index carries its publication
 * and expiry times, so an old signed index cannot be replayed.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { StoreListing, StoreResult, UpdateCheck } from '../../src/api/index.js';
import { parsePrivateKey, signBytes } from '../../src/core/appstore/index.js';
import {
  buildStoreFolder,
  makeStorePackage,
  StaticStore,
  storeKeygen,
} from '../helpers/app-store.js';
import { appStatus, cli, makeTemp, withDaemon } from '../helpers/daemon.js';

/** A store folder with its own key and server. */
interface TestStore {
  dir: string;
  key: string;
  publicKey: string;
  server: StaticStore;
}

describe('app store trust', () => {
  const running = withDaemon({ args: ['--set', 'apps.stopGraceSeconds=2'] });
  let work: string;
  const stores: Record<string, TestStore> = {};

  const run = (...args: string[]) => cli([...args, '--data', running.daemon.data]);
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await run(...args, '--json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as T;
  };
  const idle = (store: TestStore, id: string, version: string, build: number) =>
    makeStorePackage(join(store.dir, `${id}-${build}.tar.gz`), id, { version, build });

  before(async () => {
    work = await makeTemp();
    for (const name of ['a', 'b', 'c']) {
      const dir = join(work, name);
      await mkdir(dir);
      const key = join(work, `${name}.key`);
      const server = new StaticStore(dir);
      await server.start();
      stores[name] = { dir, key, publicKey: await storeKeygen(key), server };
    }
  });
  after(async () => {
    for (const store of Object.values(stores)) await store.server.close();
  });

  test('a store swap is refused: the app stays on the store and key it came from', async () => {
    const [a, b] = [stores.a!, stores.b!];
    await idle(a, 'swap', '1.0', 1);
    await buildStoreFolder(a.dir, a.key);
    // Store B lists the same id with a higher build, correctly signed by B's own key.
    await idle(b, 'swap', '6.6.6', 666);
    await buildStoreFolder(b.dir, b.key);
    for (const [name, store] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const added = await run('store', 'add', name, store.server.url(), '--key', store.publicKey);
      assert.equal(added.code, 0, added.stderr);
    }
    const installed = await json<StoreResult>('store', 'install', 'swap', '--store', 'a');
    assert.deepEqual(installed.to, { version: '1.0', build: 1 });

    // A cannot be read: the update does not fall back to B.
    a.server.faults.set('apps.json', 500);
    const update = await run('store', 'update', 'swap');
    assert.equal(update.code, 1, update.stdout);
    assert.match(update.stderr, /^error APPSTORE_UNREACHABLE: .*lists swap; .*HTTP 500/m);
    const all = await json<{ results: unknown[] }>('store', 'update', '--all');
    assert.deepEqual(all.results, []);
    const check = await json<UpdateCheck>('store', 'check');
    assert.deepEqual(check.updates, []);
    // Naming B, by install or update, needs the confirmation.
    for (const verb of ['install', 'update']) {
      const named = await run('store', verb, 'swap', '--store', 'b');
      assert.equal(named.code, 1, named.stdout);
      assert.match(named.stderr, /^error APPSTORE_PINNED: swap was installed from app store a/m);
    }
    assert.equal((await appStatus(running.daemon, 'swap')).version, '1.0');

    // A back, but its index now lists a build signed by B's key: refused as well.
    a.server.faults.clear();
    await copyFile(join(b.dir, 'swap-666.tar.gz'), join(a.dir, 'swap-666.tar.gz'));
    const forged = join(work, 'forged');
    await mkdir(forged);
    await copyFile(join(b.dir, 'swap-666.tar.gz'), join(forged, 'swap-666.tar.gz'));
    await buildStoreFolder(forged, b.key);
    await buildStoreFolder(a.dir, a.key);
    const index = JSON.parse(await readFile(join(a.dir, 'apps.json'), 'utf8')) as {
      apps: { versions: { build: number; signature?: string }[] }[];
    };
    const bIndex = JSON.parse(await readFile(join(forged, 'apps.json'), 'utf8')) as typeof index;
    index.apps[0]!.versions.find((v) => v.build === 666)!.signature =
      bIndex.apps[0]!.versions[0]!.signature;
    await writeFile(join(a.dir, 'apps.json'), JSON.stringify(index));
    // A trusts both keys now (say, a key rotation announced by A's admin).
    await run('store', 'add', 'a', a.server.url(), '--key', a.publicKey, '--key', b.publicKey);
    const signed = await cli(['store', 'sign', join(a.dir, 'apps.json'), '--key', a.key]);
    assert.equal(signed.code, 0, signed.stderr);
    const rotated = await run('store', 'update', 'swap');
    assert.equal(rotated.code, 1, rotated.stdout);
    assert.match(rotated.stderr, /^error APPSTORE_PINNED: .*signed by another key/m);
    assert.equal((await appStatus(running.daemon, 'swap')).version, '1.0');

    // Confirmed, the switch is made, and the app is pinned to B from then on.
    const switched = await json<StoreResult>(
      'store',
      'update',
      'swap',
      '--store',
      'b',
      '--switch-store',
    );
    assert.deepEqual(switched.to, { version: '6.6.6', build: 666 });
    const back = await run('store', 'install', 'swap', '--store', 'a', '--force');
    assert.match(back.stderr, /^error APPSTORE_PINNED: swap was installed from app store b/m);
  });

  test('an app installed from a file is not replaced by a store install without confirmation', async () => {
    const a = stores.a!;
    const file = join(work, 'local.tar.gz');
    await makeStorePackage(file, 'local', { version: 'mine', build: 1 });
    const installed = await run('app', 'install', file);
    assert.equal(installed.code, 0, installed.stderr);
    await idle(a, 'local', '2.0', 2);
    await buildStoreFolder(a.dir, a.key);
    const refused = await run('store', 'install', 'local');
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /^error APPSTORE_PINNED: local is installed, but not from/m);
    assert.equal((await appStatus(running.daemon, 'local')).version, 'mine');
    const confirmed = await json<StoreResult>('store', 'install', 'local', '--switch-store');
    assert.deepEqual(confirmed.to, { version: '2.0', build: 2 });
  });

  test('an old signed index served again is refused, and so is an expired one', async () => {
    const c = stores.c!;
    await idle(c, 'fresh', '1.0', 1);
    await buildStoreFolder(c.dir, c.key);
    const saved = join(work, 'old');
    await mkdir(saved);
    await copyFile(join(c.dir, 'apps.json'), join(saved, 'apps.json'));
    await copyFile(join(c.dir, 'apps.json.sig'), join(saved, 'apps.json.sig'));
    const old = JSON.parse(await readFile(join(saved, 'apps.json'), 'utf8')) as {
      published: string;
      expires: string;
    };
    assert.ok(Date.parse(old.expires) - Date.parse(old.published) === 30 * 86_400_000);
    await sleep(20);
    await buildStoreFolder(c.dir, c.key);
    const added = await run('store', 'add', 'c', c.server.url(), '--key', c.publicKey);
    assert.equal(added.code, 0, added.stderr);
    const seen = await json<StoreListing>('store', 'list');
    assert.deepEqual(
      seen.errors.filter((e) => e.store === 'c'),
      [],
    );

    // The older index, with its valid signature, served again.
    await copyFile(join(saved, 'apps.json'), join(c.dir, 'apps.json'));
    await copyFile(join(saved, 'apps.json.sig'), join(c.dir, 'apps.json.sig'));
    const replayed = await json<StoreListing>('store', 'list');
    assert.deepEqual(
      replayed.errors.filter((e) => e.store === 'c').map((e) => [e.store, e.code]),
      [['c', 'APPSTORE_INDEX_REPLAYED']],
    );
    const install = await run('store', 'install', 'fresh', '--store', 'c');
    assert.match(install.stderr, /^error APPSTORE_INDEX_REPLAYED: .*app store c: .*before/m);

    // A signed index without its times is refused too: it could be any old one.
    const bare = JSON.parse(await readFile(join(saved, 'apps.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    delete bare.published;
    delete bare.expires;
    const bareText = JSON.stringify(bare);
    await writeFile(join(c.dir, 'apps.json'), bareText);
    const privateKey = parsePrivateKey(await readFile(c.key, 'utf8'));
    await writeFile(join(c.dir, 'apps.json.sig'), signBytes(Buffer.from(bareText), privateKey));
    const timeless = await json<StoreListing>('store', 'list');
    assert.deepEqual(
      timeless.errors.filter((e) => e.store === 'c').map((e) => [e.store, e.code]),
      [['c', 'APPSTORE_INDEX_INVALID']],
    );

    // Valid for a moment only: refused once that has passed, though newer than any seen.
    const built = await cli(['store', 'build', c.dir, '--key', c.key, '--valid-days', '0.00001']);
    assert.equal(built.code, 0, built.stderr);
    await sleep(1500);
    const expired = await run('store', 'install', 'fresh', '--store', 'c');
    assert.equal(expired.code, 1, expired.stdout);
    assert.match(expired.stderr, /^error APPSTORE_INDEX_EXPIRED: .*app store c: .*expired at/m);
    assert.equal((await appStatus(running.daemon, 'fresh')).version, undefined);
    // Re-signed (new times), the store works again.
    const resigned = await cli(['store', 'sign', join(c.dir, 'apps.json'), '--key', c.key]);
    assert.equal(resigned.code, 0, resigned.stderr);
    const ok = await json<StoreResult>('store', 'install', 'fresh', '--store', 'c');
    assert.deepEqual(ok.to, { version: '1.0', build: 1 });
  });
});
