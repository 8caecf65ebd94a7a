import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { closeRouteSchema } from '../../src/api/schemas.js';
import { apiRoutes } from '../helpers/api-routes.js';

const route = (options: Partial<RouteOptions>): RouteOptions => ({
  method: 'POST',
  url: '/x',
  handler: () => undefined,
  ...options,
});

describe('every API route has a closed request shape', () => {
  test('a route without a query or body schema takes neither', () => {
    const post = route({});
    closeRouteSchema(post);
    assert.deepEqual(post.schema?.querystring, {
      type: 'object',
      properties: {},
      additionalProperties: false,
    });
    assert.deepEqual(post.schema.body, {
      type: ['object', 'null'],
      properties: {},
      additionalProperties: false,
    });
    const get = route({ method: 'GET' });
    closeRouteSchema(get);
    assert.equal(get.schema?.body, undefined);
    const upload = route({ config: { streamedBody: true } });
    closeRouteSchema(upload);
    assert.equal(upload.schema?.body, undefined, 'a streamed body is no JSON object');
  });

  test('an object schema (or one nested in it) without additionalProperties: false is refused', () => {
    for (const schema of [
      { body: { type: 'object', properties: { a: { type: 'string' } } } },
      { querystring: { type: 'object', properties: {} } },
      {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { list: { type: 'array', items: { type: 'object', properties: {} } } },
        },
      },
      { params: { type: 'object', properties: { id: { type: 'string' } } } },
    ]) {
      assert.throws(
        () => {
          closeRouteSchema(route({ url: '/y/:id', schema }));
        },
        /must say additionalProperties: false|needs a params schema/,
        JSON.stringify(schema),
      );
    }
  });

  test('the routes of the API: closed schemas, and a params schema wherever the path has one', async () => {
    const routes = await apiRoutes();
    assert.ok(routes.length > 40, `${routes.length} routes`);
    for (const { method, url, schema } of routes) {
      assert.ok(url.startsWith('/manager/api/v1/'), url);
      assert.ok(schema.querystring, `${method} ${url} has a query schema`);
      if (url.includes(':')) assert.ok(schema.params, `${method} ${url} has a params schema`);
    }
  });
});
