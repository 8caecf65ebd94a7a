import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { manifestSchema } from '../../src/core/catalog/index.js';

/** Every key path of a value's objects, e.g. `restart.policy` (arrays are leaves). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, inner]) =>
    keyPaths(inner, prefix === '' ? key : `${prefix}.${key}`),
  );
}

/** Every key path the schema accepts, read from zod's own shape. */
function schemaPaths(shape: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(shape).flatMap(([key, field]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    let inner = field as { unwrap?: () => unknown; shape?: Record<string, unknown> };
    while (inner.shape === undefined && typeof inner.unwrap === 'function') {
      inner = inner.unwrap() as typeof inner;
    }
    return inner.shape === undefined ? [path] : schemaPaths(inner.shape, path);
  });
}

test('docs/apps.md shows an app.json with every key, valid, and a table row per key', async () => {
  const text = await readFile(new URL('../../../docs/apps.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('## app.json'));
  const block = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.ok(block, 'docs/apps.md: no json block under "## app.json"');
  const example: unknown = JSON.parse(block);
  const parsed = manifestSchema.safeParse(example);
  assert.ok(parsed.success, `the example is not a valid app.json: ${parsed.error?.message}`);

  const documented = keyPaths(example).sort();
  const accepted = schemaPaths(manifestSchema.shape).sort();
  assert.deepEqual(documented, accepted, 'the example does not show every key app.json accepts');
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  for (const path of accepted) {
    assert.ok(
      rows.some((row) => row.split('|')[1]?.trim() === `\`${path}\``),
      `docs/apps.md has no table row for ${path}`,
    );
  }
});
