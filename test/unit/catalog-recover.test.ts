import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Catalog, randomUnixUserName, unixUserCandidates } from '../../src/core/catalog/index.js';
import type { Store } from '../../src/core/store/index.js';

/** recover() touches only the disk; a store that must not be used proves it. */
const noStore = new Proxy(Object.create(null) as object, {
  get() {
    throw new Error('the store must not be used');
  },
}) as Store;

async function catalogIn(root: string): Promise<Catalog> {
  await mkdir(join(root, 'apps'), { recursive: true });
  return new Catalog({
    store: noStore,
    nodeId: 'n',
    appsDir: join(root, 'apps'),
    appdataDir: join(root, 'appdata'),
  });
}

describe('catalog recovery after a crash during an install', () => {
  test('a previous folder whose new one never arrived is put back', async () => {
    const root = await mkdtemp(join(tmpdir(), 'catalog-'));
    try {
      const catalog = await catalogIn(root);
      // The crash came between "move the old folder away" and "move the new one in".
      await mkdir(join(root, 'apps', '.old-myapp-0123456789ab'));
      await writeFile(join(root, 'apps', '.old-myapp-0123456789ab', 'run'), 'old version');
      await mkdir(join(root, 'apps', '.staging-aaaaaaaaaaaa'));
      await writeFile(join(root, 'apps', '.staging-aaaaaaaaaaaa', 'run'), 'new version, complete');
      assert.deepEqual(await catalog.recover(), ['myapp']);
      assert.equal(await readFile(join(root, 'apps', 'myapp', 'run'), 'utf8'), 'old version');
      assert.deepEqual(await readdir(join(root, 'apps')), ['myapp']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('after the swap, the left-over previous folder is dropped and the new one kept', async () => {
    const root = await mkdtemp(join(tmpdir(), 'catalog-'));
    try {
      const catalog = await catalogIn(root);
      await mkdir(join(root, 'apps', 'myapp'));
      await writeFile(join(root, 'apps', 'myapp', 'run'), 'new version');
      await mkdir(join(root, 'apps', '.old-myapp-0123456789ab'));
      await writeFile(join(root, 'apps', '.incoming-bbbbbbbbbbbb'), 'half an upload');
      assert.deepEqual(await catalog.recover(), []);
      assert.equal(await readFile(join(root, 'apps', 'myapp', 'run'), 'utf8'), 'new version');
      assert.deepEqual(await readdir(join(root, 'apps')), ['myapp']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('app user names are valid, at most 32 characters, and distinct for ids that differ in case', () => {
    const first = (id: string) => unixUserCandidates(id)[0]!;
    const names = [
      'app',
      'App',
      'a'.repeat(64),
      'A'.repeat(64),
      'sample_app_appcon',
      'acme-reporting',
    ].map(first);
    for (const name of names) {
      assert.match(name, /^[a-z_][a-z0-9_-]{0,31}$/);
    }
    assert.equal(new Set(names).size, names.length);
    assert.equal(first('sample_app_appcon'), 'av-sample_app_appcon');
  });

  test('an app has many distinct candidate user names, all valid', () => {
    for (const id of ['SecUp', 'secup-24307a1b', 'a'.repeat(64)]) {
      const names = unixUserCandidates(id);
      assert.equal(names.length, 20);
      assert.equal(new Set(names).size, names.length);
      for (const name of names) assert.match(name, /^[a-z_][a-z0-9_-]{0,31}$/);
      const random = [randomUnixUserName(id), randomUnixUserName(id)];
      assert.notEqual(random[0], random[1], 'random names differ');
      for (const name of random) {
        assert.match(name, /^[a-z_][a-z0-9_-]{0,31}$/);
        assert.ok(!names.includes(name));
      }
    }
  });
});
