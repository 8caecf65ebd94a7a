import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  AppvisorError,
  errorBody,
  errorCatalog,
  httpErrorOf,
  isErrorCode,
  statusOf,
  type CatalogEntry,
} from '../../src/core/errors/index.js';

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

  test('an error takes another status only when the catalog lists it for its code', () => {
    const tooLarge = new AppvisorError('BAD_REQUEST', 'too large', { status: 413 });
    assert.equal(tooLarge.status, 413);
    const relayed = new AppvisorError('INSTANCE_UNAVAILABLE', 'bad answer', { status: 502 });
    assert.equal(relayed.status, 502);
    // 502 is listed for INSTANCE_UNAVAILABLE, not for NOT_FOUND: the catalog's own status wins.
    assert.equal(new AppvisorError('NOT_FOUND', 'x', { status: 502 }).status, 404);
    assert.equal(statusOf('NOT_FOUND', 413), 404);
    for (const code of codes) {
      const entry: CatalogEntry = errorCatalog[code];
      for (const status of entry.alsoStatus ?? []) {
        assert.ok(status >= 400 && status <= 599 && status !== entry.status, `${code}: ${status}`);
        assert.equal(statusOf(code, status), status);
      }
    }
  });

  test('httpErrorOf answers the one shape: {code, message}, field and Retry-After when known', () => {
    assert.deepEqual(httpErrorOf(new AppvisorError('STARTING')), {
      status: 503,
      body: { code: 'STARTING', message: errorCatalog.STARTING.text },
    });
    const full = new AppvisorError('PATH_TAKEN', 'the path /a is taken', {
      field: 'path',
      retryAfter: 3,
    });
    assert.deepEqual(httpErrorOf(full), {
      status: 409,
      body: { code: 'PATH_TAKEN', message: 'the path /a is taken', field: 'path' },
      retryAfter: 3,
    });
    assert.deepEqual(errorBody('NOT_FOUND', 'no such page'), {
      code: 'NOT_FOUND',
      message: 'no such page',
    });
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

  test("each code's row gives its HTTP status and says when it has another", async () => {
    const text = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    for (const code of codes) {
      const row = text.split('\n').find((line) => line.startsWith(`| \`${code}\` |`)) ?? '';
      const entry: CatalogEntry = errorCatalog[code];
      assert.equal(row.split('|')[2]?.trim(), String(entry.status), `${code}: ${row}`);
      for (const status of entry.alsoStatus ?? []) {
        assert.match(row, new RegExp(`\\b${status}\\b`), `${code} does not say ${status}`);
      }
    }
  });
});
