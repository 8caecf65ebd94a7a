import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pbxLinkOf } from '../../src/core/instances/index.js';

describe('the PBX App-object link of an instance', () => {
  const view = { domain: 'example.com', path: '/example.com/acme' };

  test("on the platform's DNS name", () => {
    assert.deepEqual(pbxLinkOf(view, 'apps.example.org'), {
      url: 'https://apps.example.org/example.com/acme',
      websocketUrl: 'wss://apps.example.org/example.com/acme',
      dnsName: 'apps.example.org',
      dnsNameFrom: 'settings',
      domain: 'example.com',
    });
  });

  test("without one, on the instance's domain, saying so", () => {
    assert.deepEqual(pbxLinkOf(view, ''), {
      url: 'https://example.com/example.com/acme',
      websocketUrl: 'wss://example.com/example.com/acme',
      dnsName: 'example.com',
      dnsNameFrom: 'domain',
      domain: 'example.com',
    });
  });

  test('URL parsers read back the host and the path as they are', () => {
    const odd = { domain: 'x.example', path: "/a/b~c/d!$&'()*+,;=:@%41-._" };
    const parsed = new URL(pbxLinkOf(odd, 'h.example').websocketUrl);
    assert.equal(parsed.host, 'h.example');
    assert.equal(parsed.pathname, odd.path);
  });
});
