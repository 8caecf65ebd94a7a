import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import {
  createRouter,
  HttpError,
  readJson,
  type Instance,
  type Router,
} from '../../src/sdk/index.js';
import { pathInside } from '../../src/sdk/http.js';

const instance = { id: 'acme', path: '/example.com/acme' } as Instance;

/** Serves `router` for {@link instance} on a loopback port, closed after the test. */
async function serve(t: TestContext, router: Router): Promise<string> {
  const server: Server = createServer((request, response) => {
    router.handle(request, response, instance).catch(() => {
      response.writeHead(500).end('thrown on');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request, the path sent exactly as given. */
function send(
  base: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The `{ code, message }` of an error answer. */
function errorOf(answer: Answer): { code: string; message: string } {
  return JSON.parse(answer.body) as { code: string; message: string };
}

describe('pathInside: the path inside the instance', () => {
  test('strips the instance path, keeps the query apart', () => {
    const base = '/example.com/acme';
    assert.equal(pathInside('/example.com/acme', base).path, '/');
    assert.equal(pathInside('/example.com/acme/', base).path, '/');
    assert.equal(pathInside('/example.com/acme/count?x=1&y=2', base).path, '/count');
    assert.equal(pathInside('/example.com/acme/count?x=1&y=2', base).query.get('y'), '2');
    assert.equal(pathInside('/example.com/acme?x=1', base).path, '/');
    // Not below the instance (a request made to the socket by hand): taken as it is.
    assert.equal(pathInside('/example.com/acmeX/a', base).path, '/example.com/acmeX/a');
    assert.equal(pathInside('/count', base).path, '/count');
  });
});

describe('createRouter', () => {
  const router = createRouter()
    .get('/', () => ({ page: 'home' }))
    .get('/items/:id', (request, _response, inst) => ({ id: request.params.id, of: inst.id }))
    .delete('/items/:id', (_request, response) => {
      response.writeHead(204).end();
    })
    .post('/items', async (request) => ({ got: await readJson(request, { maxBytes: 64 }) }))
    .get('/files/*', (request) => ({ rest: request.params['*'], q: request.query.get('q') }))
    .get('/teapot', () => {
      throw new HttpError(418, 'TEAPOT', 'short and stout', { 'x-extra': 'yes' });
    })
    .post('/twice', async (request) => {
      await readJson(request);
      return readJson(request);
    })
    .get('/broken', () => {
      throw new Error('secret detail');
    });

  test('routes by method and path inside the instance, with decoded params', async (t) => {
    const base = await serve(t, router);
    const home = await send(base, 'GET', '/example.com/acme');
    assert.equal(home.status, 200);
    assert.equal(home.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(home.body), { page: 'home' });
    const item = await send(base, 'GET', '/example.com/acme/items/a%20b?x=1');
    assert.deepEqual(JSON.parse(item.body), { id: 'a b', of: 'acme' });
    assert.equal((await send(base, 'DELETE', '/example.com/acme/items/7')).status, 204);
    const rest = await send(base, 'GET', '/example.com/acme/files/css/site.css?q=z');
    assert.deepEqual(JSON.parse(rest.body), { rest: 'css/site.css', q: 'z' });
    const head = await send(base, 'HEAD', '/example.com/acme/items/1');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  test('404 for an unknown path, 405 with Allow for a known path and another method', async (t) => {
    const base = await serve(t, router);
    const missing = await send(base, 'GET', '/example.com/acme/nothing');
    assert.equal(missing.status, 404);
    assert.equal(errorOf(missing).code, 'NOT_FOUND');
    // A path matches exactly: an empty parameter or a trailing slash is another path.
    assert.equal((await send(base, 'GET', '/example.com/acme/items/')).status, 404);
    const wrong = await send(base, 'PUT', '/example.com/acme/items/1');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'GET, HEAD, DELETE');
    assert.equal(errorOf(wrong).code, 'METHOD_NOT_ALLOWED');
    const bad = await send(base, 'GET', '/example.com/acme/items/%E0%A4%A');
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad).code, 'BAD_REQUEST');
  });

  test('an HttpError is answered with its status; other errors are thrown on', async (t) => {
    const base = await serve(t, router);
    const teapot = await send(base, 'GET', '/example.com/acme/teapot');
    assert.equal(teapot.status, 418);
    assert.equal(teapot.headers['x-extra'], 'yes');
    assert.deepEqual(JSON.parse(teapot.body), { code: 'TEAPOT', message: 'short and stout' });
    const broken = await send(base, 'GET', '/example.com/acme/broken');
    assert.equal(broken.status, 500);
    assert.equal(broken.body, 'thrown on');
  });

  test('readJson: the body, 400 for none or bad JSON, 413 over the cap', async (t) => {
    const base = await serve(t, router);
    const json = { 'content-type': 'application/json' };
    const ok = await send(base, 'POST', '/example.com/acme/items', '{"a":[1,2]}', json);
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { got: { a: [1, 2] } });
    const empty = await send(base, 'POST', '/example.com/acme/items', '', json);
    assert.equal(empty.status, 400);
    assert.match(errorOf(empty).message, /no JSON body/);
    const bad = await send(base, 'POST', '/example.com/acme/items', '{"a":', json);
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad).message, /not valid JSON/);
    const big = JSON.stringify({ text: 'x'.repeat(100) });
    const announced = await send(base, 'POST', '/example.com/acme/items', big, json);
    assert.equal(announced.status, 413);
    assert.equal(errorOf(announced).code, 'PAYLOAD_TOO_LARGE');
    // Chunked, without a length: refused once the bytes read pass the cap.
    const chunked = await send(base, 'POST', '/example.com/acme/items', big, {
      ...json,
      'transfer-encoding': 'chunked',
    });
    assert.equal(chunked.status, 413);
    // A body read twice is the app's fault, answered at once rather than never.
    const twice = await send(base, 'POST', '/example.com/acme/twice', '{}', json);
    assert.equal(twice.status, 500);
  });

  test('a pattern the router cannot match is refused when added', () => {
    assert.throws(() => createRouter().get('items', () => 1), /must start with/);
    assert.throws(() => createRouter().get('/a/*/b', () => 1), /must be last/);
    assert.throws(() => createRouter().get('/a/:1x', () => 1), /not a parameter name/);
  });
});
