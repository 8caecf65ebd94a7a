import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { restBelow, slashLocation } from '../../src/core/front/static-files.js';

describe('the static folder: the path below the instance and the slash redirect', () => {
  test('restBelow cuts the instance path, by segments when it is spelled otherwise', () => {
    const base = '/example.com/b';
    assert.equal(restBelow('/example.com/b', base), '');
    assert.equal(restBelow('/example.com/b/', base), '/');
    assert.equal(restBelow('/example.com/b/css/a.css', base), '/css/a.css');
    assert.equal(restBelow('//example.com/b', base), '');
    assert.equal(restBelow('//example.com//b/', base), '/');
    assert.equal(restBelow('//example.com/b//css/a.css', base), '/css/a.css');
  });

  test('slashLocation is the instance path with a slash and the query, never //host', () => {
    assert.equal(slashLocation('/example.com/b', '/example.com/b'), '/example.com/b/');
    assert.equal(slashLocation('/example.com/b', '//example.com/b?a=1&b'), '/example.com/b/?a=1&b');
    assert.equal(slashLocation('//evil.com', '//evil.com'), '/evil.com/');
    assert.equal(slashLocation('/\\evil.com', '/x'), '/evil.com/');
    assert.equal(slashLocation('/', '/?q'), '/?q');
  });
});
