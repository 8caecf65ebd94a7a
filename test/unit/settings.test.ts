import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppvisorError } from '../../src/core/errors/index.js';
import { checkDnsName, checkLabel } from '../../src/core/settings/index.js';

function refusedField(check: () => unknown): string | undefined {
  try {
    check();
  } catch (error) {
    assert.ok(error instanceof AppvisorError);
    assert.equal(error.code, 'SETTING_INVALID');
    return error.field;
  }
  assert.fail('accepted');
}

describe('platform settings', () => {
  test('a label is up to 64 printable characters, trimmed', () => {
    assert.equal(checkLabel('  Büro Nord 1  '), 'Büro Nord 1');
    assert.equal(checkLabel('x'.repeat(64)), 'x'.repeat(64));
    assert.equal(checkLabel(''), '');
    assert.equal(
      refusedField(() => checkLabel('x'.repeat(65))),
      'label',
    );
    assert.equal(
      refusedField(() => checkLabel('tab\there')),
      'label',
    );
  });

  test('a DNS name is a host name in lower case, or empty', () => {
    assert.equal(checkDnsName('Apps.Example.COM.'), 'apps.example.com');
    assert.equal(checkDnsName('localhost'), 'localhost');
    assert.equal(checkDnsName(''), '');
    for (const bad of ['https://example.com', 'example.com:8443', '-x.com', 'a..b', 'a b']) {
      assert.equal(
        refusedField(() => checkDnsName(bad)),
        'dnsName',
        bad,
      );
    }
  });
});
