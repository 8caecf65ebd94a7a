import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppvisorError } from '../../src/core/errors/index.js';
import {
  checkAlarmEmail,
  checkAlarmUrl,
  checkDnsName,
  checkLabel,
  maxAlarmUrlLength,
} from '../../src/core/settings/index.js';

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

describe('alarm settings', () => {
  test('an alarm URL is an http or https URL with a host, trimmed, or empty', () => {
    assert.equal(
      checkAlarmUrl('  https://alarms.example.com/hook?x=1  '),
      'https://alarms.example.com/hook?x=1',
    );
    assert.equal(checkAlarmUrl('http://u:p@127.0.0.1:9000/a'), 'http://u:p@127.0.0.1:9000/a');
    assert.equal(checkAlarmUrl(''), '');
    assert.equal(checkAlarmUrl('   '), '');
    for (const bad of [
      'alarms.example.com/hook',
      'ftp://example.com/x',
      'mailto:ops@example.com',
      'file:///etc/passwd',
      'https://',
      'http://exa mple.com/',
      `https://example.com/${'x'.repeat(maxAlarmUrlLength)}`,
      'https://example.com/a\u0000b',
      'https://example.com/a\tb',
    ]) {
      assert.equal(
        refusedField(() => checkAlarmUrl(bad)),
        'alarmUrl',
        bad,
      );
    }
  });

  test('a refused alarm URL is not repeated in the error (it may hold credentials)', () => {
    try {
      checkAlarmUrl('ftp://user:hunter2secret@example.com/');
      assert.fail('accepted');
    } catch (error) {
      assert.ok(error instanceof AppvisorError);
      assert.doesNotMatch(error.message, /hunter2secret/);
    }
  });

  test('alarm e-mail recipients are addresses separated by commas, or empty', () => {
    assert.equal(checkAlarmEmail(' ops@example.com '), 'ops@example.com');
    assert.equal(
      checkAlarmEmail('a@example.com,b@example.org , ,'),
      'a@example.com, b@example.org',
    );
    assert.equal(checkAlarmEmail('root@localhost'), 'root@localhost');
    assert.equal(checkAlarmEmail(''), '');
    for (const bad of [
      'ops',
      'ops@',
      '@example.com',
      'a b@example.com',
      'Ops <ops@example.com>',
      'a@example.com; b@example.com',
      'a\u0000b@example.com',
      'a\u0001b@example.com',
    ]) {
      assert.equal(
        refusedField(() => checkAlarmEmail(bad)),
        'alarmEmail',
        bad,
      );
    }
  });
});
