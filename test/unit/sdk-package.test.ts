/**
 * The package as `npm pack` would publish it: what an app needs (the SDK and test kit bundles,
 * their declarations, what `exports` names, the manager itself) and nothing it does not (tests,
 * sources, source maps, screenshots, anything that could hold a secret).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/daemon.js';

const run = promisify(execFile);

interface Packed {
  size: number;
  files: { path: string; size: number }[];
}

test('npm pack ships the SDK, its types and the manager, and nothing else', async () => {
  // --ignore-scripts: `prepare` would build again; `npm test` has built already.
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as Packed[];
  assert.ok(packed);
  const paths = new Set(packed.files.map((file) => file.path));

  const manifest = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    private?: boolean;
    exports: Record<string, string | Record<string, string>>;
    bin: Record<string, string>;
    dependencies: Record<string, string>;
  };
  assert.equal(manifest.private, undefined, 'a private package cannot be published');
  for (const [name, target] of Object.entries(manifest.exports)) {
    const targets = typeof target === 'string' ? [target] : Object.values(target);
    for (const path of targets) {
      assert.ok(paths.has(path.replace(/^\.\//, '')), `exports ${name}: ${path} is not packed`);
    }
  }
  assert.ok(manifest.exports['./sdk/testing'], 'the test kit is exported');
  for (const path of Object.values(manifest.bin)) assert.ok(paths.has(path), path);
  // The declarations name pg and ws: their types come with the package.
  assert.ok(manifest.dependencies['@types/pg']);
  assert.ok(manifest.dependencies['@types/ws']);

  for (const needed of [
    'dist/sdk/appvisor-sdk.mjs',
    'dist/sdk/types/sdk/index.d.ts',
    'dist/sdk/types/sdk/testing/test-kit.d.ts',
    'dist/sdk/types/lib/service-protocol.d.ts',
    'dist/src/main.js',
    'dist/ui/index.html',
    'docs/sdk.md',
  ]) {
    assert.ok(paths.has(needed), `${needed} is not packed`);
  }
  const unwanted = [...paths].filter(
    (path) =>
      /^(dist\/(test|bench)|src|test|bench|examples|scripts|ui|node_modules|data|\.ci)\//.test(
        path,
      ) ||
      /\.(map|ts|png|log|pem|key)$/.test(path.replace(/\.d\.ts$/, '')) ||
      /(^|\/)\.(env|npmrc|git)/.test(path),
  );
  assert.deepEqual(unwanted, []);
  assert.ok(packed.size < 5 * 1024 * 1024, `the tarball has ${packed.size} bytes`);
});
