import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PathRouter } from '../../src/lib/path-router.js';

describe('path router', () => {
  test('longest match on whole segments, case-sensitive', () => {
    const router = new PathRouter<string>();
    router.set('/example.com/a', 'A');
    router.set('/example.com/a/deeper', 'D');
    router.set('/other', 'O');
    assert.equal(router.match('/example.com/a')?.value, 'A');
    assert.equal(router.match('/example.com/a/')?.value, 'A');
    assert.equal(router.match('/example.com/a/x/y')?.value, 'A');
    assert.equal(router.match('/example.com/a/deeper/z')?.value, 'D');
    assert.equal(router.match('/example.com/a/deeper')?.path, '/example.com/a/deeper');
    assert.equal(router.match('/example.com/ab'), undefined, 'not a whole segment');
    assert.equal(router.match('/EXAMPLE.com/a'), undefined, 'case-sensitive');
    assert.equal(router.match('/example.com'), undefined);
    assert.equal(router.match('/'), undefined);
    assert.equal(router.match('//other//x')?.value, 'O', 'repeated slashes are one separator');
  });

  test('replace and delete, pruning what is left empty', () => {
    const router = new PathRouter<number>();
    router.set('/a/b', 1);
    router.set('/a/b', 2);
    assert.equal(router.size, 1);
    assert.equal(router.match('/a/b/c')?.value, 2);
    router.set('/a', 3);
    assert.equal(router.delete('/a/b'), true);
    assert.equal(router.delete('/a/b'), false);
    assert.equal(router.match('/a/b/c')?.value, 3, 'falls back to the shorter route');
    assert.equal(router.delete('/a'), true);
    assert.equal(router.size, 0);
    assert.equal(router.match('/a'), undefined);
  });

  test('finds the right route among 100 000', () => {
    const router = new PathRouter<number>();
    for (let i = 0; i < 100_000; i++) router.set(`/d${i % 100}.example/i${i}`, i);
    assert.equal(router.size, 100_000);
    assert.equal(router.match('/d42.example/i99942/index.html')?.value, 99_942);
    assert.equal(router.match('/d42.example/nope'), undefined);
  });
});
