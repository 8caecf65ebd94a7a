import assert from 'node:assert/strict';
import { request } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ApiRoute } from '../../src/api/index.js';
import { apiRoutes } from '../helpers/api-routes.js';
import { http, isAlive, login, withDaemon, type Daemon } from '../helpers/daemon.js';

interface Answer {
  status: number;
  body: { code?: string; message?: string; field?: string } | undefined;
}

/** One request over manager.sock with raw bytes and any content type. */
function send(
  daemon: Daemon,
  method: string,
  path: string,
  body?: { type: string; bytes: Buffer | string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const bytes = body === undefined ? undefined : Buffer.from(body.bytes);
    if (body && bytes) {
      headers['content-type'] = body.type;
      headers['content-length'] = String(bytes.length);
    }
    const req = request({ socketPath: daemon.socket, method, path, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        let parsed: Answer['body'];
        try {
          parsed = JSON.parse(text) as Answer['body'];
        } catch {
          parsed = undefined;
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    req.once('error', reject);
    req.end(bytes);
  });
}

/** The route's path with every `:param` filled in (an enum's first value, else `nosuch`). */
function pathOf(route: ApiRoute): string {
  const params = route.schema.params as
    { properties?: Record<string, { enum?: string[] }> } | undefined;
  return route.url.replace(
    /:([^/]+)/g,
    (_match, name: string) => params?.properties?.[name]?.enum?.[0] ?? 'nosuch',
  );
}

const bodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A body the route's schema takes: its required fields with a plain value each. */
function minimalBody(route: ApiRoute): Record<string, unknown> {
  const schema = route.schema.body as
    | { required?: string[]; properties?: Record<string, { type?: unknown; minimum?: number }> }
    | undefined;
  const body: Record<string, unknown> = {};
  for (const name of schema?.required ?? []) {
    const property = schema?.properties?.[name];
    const type: unknown = Array.isArray(property?.type) ? property.type[0] : property?.type;
    body[name] =
      type === 'array' ? [] : type === 'integer' ? (property?.minimum ?? 1) : 'valid-value';
  }
  return body;
}

async function alive(daemon: Daemon): Promise<void> {
  assert.ok(isAlive(daemon.child.pid!), `the manager died:\n${daemon.stderr().slice(-2000)}`);
  assert.equal((await send(daemon, 'GET', '/manager/api/v1/health')).status, 200);
}

describe('the API takes only what its routes read', () => {
  const running = withDaemon();
  let routes: readonly ApiRoute[] = [];

  before(async () => {
    routes = await apiRoutes();
  });

  test('a body of a content type the route does not take is 415 on every route; the manager lives', async () => {
    const { daemon } = running;
    // The upload's octet-stream once reached every route: PATCH /settings then ended the manager.
    const first = await send(daemon, 'PATCH', '/manager/api/v1/settings', {
      type: 'application/octet-stream',
      bytes: '{"label":"x"}',
    });
    assert.equal(first.status, 415);
    assert.equal(first.body?.code, 'UNSUPPORTED_MEDIA_TYPE');
    await alive(daemon);
    let tried = 0;
    for (const route of routes) {
      if (!bodyMethods.has(route.method)) continue;
      const types = route.streamedBody
        ? ['application/json', 'text/plain', 'application/x-www-form-urlencoded']
        : ['application/octet-stream', 'application/zip', 'text/plain', 'multipart/form-data'];
      for (const type of types) {
        const answer = await send(daemon, route.method, pathOf(route), {
          type,
          bytes: JSON.stringify(minimalBody(route)),
        });
        const what = `${route.method} ${route.url} with ${type}`;
        assert.equal(answer.status, 415, `${what}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body?.code, 'UNSUPPORTED_MEDIA_TYPE', what);
        tried++;
      }
    }
    assert.ok(tried > 60, `${tried} requests`);
    await alive(daemon);
  });

  test('an unknown field in a body or query is a 400 naming it, on every route', async () => {
    const { daemon } = running;
    for (const route of routes) {
      const takesJson = bodyMethods.has(route.method) && !route.streamedBody;
      const query = await send(
        daemon,
        route.method,
        `${pathOf(route)}?nosuchParam=1`,
        takesJson
          ? { type: 'application/json', bytes: JSON.stringify(minimalBody(route)) }
          : undefined,
      );
      const what = `${route.method} ${route.url}`;
      assert.equal(query.status, 400, `${what}: ${JSON.stringify(query.body)}`);
      assert.equal(query.body?.field, 'nosuchParam', what);
      if (!takesJson) continue;
      const body = await send(daemon, route.method, pathOf(route), {
        type: 'application/json',
        bytes: JSON.stringify({ ...minimalBody(route), nosuchField: 1 }),
      });
      assert.equal(body.status, 400, `${what}: ${JSON.stringify(body.body)}`);
      const refusal = body.body ?? {};
      assert.equal(refusal.code, 'BAD_REQUEST', what);
      assert.equal(refusal.field, 'nosuchField', what);
      assert.match(refusal.message ?? '', /unknown field "nosuchField"/, what);
    }
    await alive(daemon);
  });

  test('PUT /admin/password without an exact password key changes nothing and ends no login', async () => {
    const { daemon } = running;
    const token = await login(daemon, daemon.password!);
    const answer = await send(daemon, 'PUT', '/manager/api/v1/admin/password', {
      type: 'application/json',
      bytes: JSON.stringify({ Password: 'a-new-password-1234' }),
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body?.field, 'Password');
    const session = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/auth/session', {
      token,
    });
    assert.equal(session.status, 200, 'the login still works');
    await login(daemon, daemon.password!);
  });

  test('a control character in a name, path or template is a 400, never a 500', async () => {
    const { daemon } = running;
    const json = (value: unknown) => ({ type: 'application/json', bytes: JSON.stringify(value) });
    const cases: [string, string, Answer['body'] | undefined, string][] = [
      ['POST', '/backups/restore', { archive: 'a\u0000b.tar', as: 'copy' } as never, 'archive'],
      ['POST', '/backups/restore', { archive: 'x/\n.tar', into: 'x' } as never, 'archive'],
      ['POST', '/backups', { instance: 'x', template: '#A/#I\u0000-#d.tar' } as never, 'template'],
      ['PUT', '/backups/schedule', { template: '#A/#I\u0000.tar' } as never, 'template'],
      ['POST', '/instances', { app: 'a\u0000', id: 'x' } as never, 'app'],
      ['PUT', '/store/sources/x', { url: 'http://a/\u0000' } as never, 'url'],
    ];
    for (const [method, path, body, field] of cases) {
      const answer = await send(daemon, method, `/manager/api/v1${path}`, json(body));
      const what = `${method} ${path} ${JSON.stringify(body)}`;
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body?.field, field, what);
      assert.match(answer.body.message ?? '', /control characters/, what);
    }
    for (const path of ['/apps/a%00b', '/instances/a%0Ab', '/backups?instance=a%00']) {
      const answer = await send(daemon, 'GET', `/manager/api/v1${path}`);
      assert.equal(answer.status, 400, `${path}: ${JSON.stringify(answer.body)}`);
    }
    const schedule = await send(daemon, 'GET', '/manager/api/v1/backups/schedule');
    assert.doesNotMatch(JSON.stringify(schedule.body), /\\u0000/);
    await alive(daemon);
  });

  test('a session cookie that is not percent-encoded right is no login, not a 500', async () => {
    const { daemon } = running;
    for (const cookie of ['appvisor_session=%E0%A4%A', 'appvisor_session=%; appvisor_session=%%']) {
      const answer = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/apps', {
        cookie,
      });
      assert.equal(answer.status, 401, `${cookie}: ${answer.text}`);
      const health = await http('GET', { url: daemon.adminUrl }, '/manager/api/v1/health', {
        cookie,
      });
      assert.equal(health.status, 200, `${cookie}: ${health.text}`);
    }
  });
});
