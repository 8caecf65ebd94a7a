/**
 * An empty body is no body: `curl -X POST` with or without a JSON content type reaches a route
 * whose body is optional, and a route whose body is required names what is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiPrefix, buildApi, type Api } from '../../src/api/index.js';
import { adminToken, fakeContext } from './fakes.js';

describe('an empty request body', () => {
  const calls: string[] = [];
  let api: Api;
  before(async () => {
    api = await buildApi(fakeContext(calls));
  });
  after(() => api.close());

  async function post(url: string, contentType?: string, payload?: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (contentType !== undefined) headers['content-type'] = contentType;
    const response = await api.app.inject({
      method: 'POST',
      url: `${apiPrefix}${url}`,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: response.statusCode, body: JSON.parse(response.body) as { message?: string } };
  }

  test('reaches a route whose body is optional, with or without a JSON content type', async () => {
    for (const [contentType, payload] of [
      [undefined, undefined],
      ['application/json', undefined],
      ['application/json', ''],
      ['application/json; charset=utf-8', ''],
    ] as const) {
      for (const url of ['/store/apps/demo/install', '/store/update']) {
        calls.length = 0;
        const answer = await post(url, contentType, payload);
        assert.equal(answer.status, 200, `${url} ${contentType}: ${JSON.stringify(answer.body)}`);
        assert.equal(calls.length, 1, `${url}: the service was called`);
      }
    }
  });

  test('a required body names its missing field', async () => {
    const answer = await post('/instances', 'application/json', '');
    assert.equal(answer.status, 400);
    assert.match(answer.body.message ?? '', /app/);
  });

  test('JSON is still parsed with its checks', async () => {
    const bad = await post('/store/update', 'application/json', '{"force":');
    assert.equal(bad.status, 400);
    const poisoned = await post('/store/update', 'application/json', '{"__proto__":{"x":1}}');
    assert.equal(poisoned.status, 400, JSON.stringify(poisoned.body));
    const good = await post('/store/update', 'application/json', '{"force":true}');
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });
});
