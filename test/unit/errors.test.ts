import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { AppvisorError, errorCatalog, isErrorCode } from '../../src/core/errors/index.js';

const codes = Object.keys(errorCatalog) as (keyof typeof errorCatalog)[];

describe('errorCatalog', () => {
  test('every code is UPPER_SNAKE with an error status and a text', () => {
    assert.ok(codes.length > 0);
    for (const code of codes) {
      const { status, text } = errorCatalog[code];
      assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
      assert.ok(text.trim().length > 0, `${code} has no text`);
    }
  });

  test('AppvisorError takes its status from the catalog and its default message from the text', () => {
    for (const code of codes) {
      const error = new AppvisorError(code);
      assert.ok(error instanceof Error);
      assert.equal(error.code, code);
      assert.equal(error.status, errorCatalog[code].status);
      assert.equal(error.message, errorCatalog[code].text);
    }
    const custom = new AppvisorError('NOT_FOUND', 'no app "blog"');
    assert.equal(custom.message, 'no app "blog"');
    assert.equal(custom.status, 404);
  });

  test('isErrorCode accepts catalog codes only', () => {
    for (const code of codes) assert.equal(isErrorCode(code), true);
    for (const other of ['', 'not_found', 'NOPE', 'toString', '__proto__', 404, null, undefined]) {
      assert.equal(isErrorCode(other), false, String(other));
    }
  });
});

describe('docs/errors.md', () => {
  test('documents every code of the catalog, and no other', async () => {
    const url = new URL('../../../docs/errors.md', import.meta.url);
    let text: string;
    try {
      text = await readFile(url, 'utf8');
    } catch {
      assert.fail(
        `${url.pathname} is missing: write it with one table row "| \`CODE\` | ..." per code of errorCatalog (src/core/errors/index.ts)`,
      );
    }
    const lines = text.split('\n');
    const missing = codes.filter((code) => !lines.some((l) => l.startsWith(`| \`${code}\` |`)));
    assert.deepEqual(missing, [], `codes missing from docs/errors.md: ${missing.join(', ')}`);
    const documented = lines
      .map((l) => /^\| `([A-Z][A-Z0-9_]*)` \|/.exec(l)?.[1])
      .filter((code): code is string => code !== undefined);
    const unknown = documented.filter((code) => !isErrorCode(code));
    assert.deepEqual(unknown, [], `docs/errors.md documents codes not in the catalog`);
  });
});
