import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scrub, scrubText } from '../../src/core/diagnostics/index.js';

const removed = '[removed]';

describe('diagnostics scrubber', () => {
  test('fields whose names look like secrets are replaced, whatever their value', () => {
    const input = {
      password: 'p1',
      adminPasswordHash: 'h1',
      passphrase: 'p2',
      secretKey: 'k1',
      sessionToken: 't1',
      privateKey: { pem: 'x' },
      credentials: ['a', 'b'],
      apiKey: 'k2',
      api_key: 'k3',
      key: 42,
    };
    const out = scrub(input, []) as Record<string, unknown>;
    for (const name of Object.keys(input)) assert.equal(out[name], removed, name);
  });

  test('empty and null secret fields stay as they are (telling that none is set)', () => {
    assert.deepEqual(scrub({ password: '', token: null }, []), { password: '', token: null });
  });

  test('ordinary fields and values are kept, types included', () => {
    const input = {
      id: 'shop',
      label: 'Office North',
      port: 5432,
      enabled: false,
      nothing: null,
      keyboard: 'de',
      monkey: 'not a key',
      url: 'https://alarms.example.com/hook?format=json&to=ops',
      mail: 'ops@example.com',
      text: 'connected to postgres at 127.0.0.1:5432',
      list: [1, 'two', { three: 3 }],
    };
    assert.deepEqual(scrub(input, ['unrelated-secret']), input);
  });

  test('nested objects and arrays are scrubbed at every depth', () => {
    const input = {
      instances: [
        { id: 'a', database: { user: 'a', password: 'pw-a' } },
        { id: 'b', log: ['started', 'login with s3cr3t-value ok'] },
      ],
      config: { alarms: { smtp: { host: 'mail', password: 'smtp-pw' } } },
    };
    assert.deepEqual(scrub(input, ['s3cr3t-value']), {
      instances: [
        { id: 'a', database: { user: 'a', password: removed } },
        { id: 'b', log: ['started', `login with ${removed} ok`] },
      ],
      config: { alarms: { smtp: { host: 'mail', password: removed } } },
    });
  });

  test('known secret values are replaced inside longer strings, every time they occur', () => {
    assert.equal(
      scrubText('a=hunter22 b=hunter22hunter22 end', ['hunter22']),
      `a=${removed} b=${removed}${removed} end`,
    );
  });

  test('a secret holding another is replaced whole; secrets under 4 characters are ignored', () => {
    assert.equal(
      scrubText('key abcd1234 and abcd', ['abcd', 'abcd1234']),
      `key ${removed} and ${removed}`,
    );
    // Replacing "ab" everywhere would mangle ordinary text.
    assert.equal(scrubText('about a cab', ['ab']), 'about a cab');
  });

  test('PEM private keys are removed, certificates kept', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQ\nabc\n-----END PRIVATE KEY-----';
    const rsa = '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----';
    const cert = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----';
    assert.equal(scrubText(`${cert}\n${key}\n${rsa}`, []), `${cert}\n${removed}\n${removed}`);
  });

  test('credentials in URLs are removed, the rest of the URL kept', () => {
    assert.equal(
      scrubText('POST https://alice:s3cret@alarms.example.com/hook failed', []),
      `POST https://${removed}@alarms.example.com/hook failed`,
    );
    assert.equal(
      scrubText('"url": "postgres://admin:pw@db.internal:5432/postgres"', []),
      `"url": "postgres://${removed}@db.internal:5432/postgres"`,
    );
    // A token alone as the user
    assert.equal(
      scrubText('https://ghp_abc123@example.com/x', []),
      `https://${removed}@example.com/x`,
    );
  });

  test('values of secret-looking query parameters are removed, others kept', () => {
    assert.equal(
      scrubText('https://h.example.com/a?token=abc&format=json&api_key=k1&sig=zz#top', []),
      `https://h.example.com/a?token=${removed}&format=json&api_key=${removed}&sig=${removed}#top`,
    );
    assert.equal(
      scrubText('https://h.example.com/a?access_token=x1&password=p&to=ops@example.com', []),
      `https://h.example.com/a?access_token=${removed}&password=${removed}&to=ops@example.com`,
    );
    // An e-mail address and a URL path holding "@" are not credentials.
    const plain = 'mail ops@example.com via https://example.com/users/@me?page=2';
    assert.equal(scrubText(plain, []), plain);
  });

  test('URL credentials inside documents are removed by scrub too', () => {
    assert.deepEqual(
      scrub({ alarmUrl: 'https://u:p@h.example.com/?key=k', defaults: { alarmUrl: '' } }, []),
      { alarmUrl: `https://${removed}@h.example.com/?key=${removed}`, defaults: { alarmUrl: '' } },
    );
  });
});
