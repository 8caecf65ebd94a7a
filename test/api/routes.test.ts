/**
 * Every route of the API, reached through Fastify's `inject()` with fake services: without a
 * login, as the admin, and with bad input. The routes come from the API's own route table, so
 * a new route gets its "no login" and "bad input" scenarios at once, and fails the table check
 * until its admin scenario is written below.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiPrefix, buildApi, type Api, type ApiRoute } from '../../src/api/index.js';
import { adminPassword, adminToken, fakeContext } from './fakes.js';

/** One request and what it must answer (pocketbase's ApiScenario is the model). */
interface Scenario {
  name: string;
  method: string;
  /** Without {@link apiPrefix}. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw bytes (a package upload) instead of JSON. */
  payload?: Buffer;
  status: number;
  /** Text the body must contain. */
  fragment: string;
  /** Service methods the request must have reached (in order). */
  calls?: string[];
}

const admin = { authorization: `Bearer ${adminToken}` };

/** The admin's request to each route, by `METHOD /path` as the route table names it. */
const adminScenarios: Record<string, Omit<Scenario, 'name' | 'method' | 'headers'>> = {
  'GET /health': { url: '/health', status: 200, fragment: '"status":"ok"' },
  'GET /status': { url: '/status', status: 200, fragment: '"fake":"status"' },
  'GET /events': { url: '/events?limit=5', status: 200, fragment: '"events":[]' },
  'POST /auth/login': {
    url: '/auth/login',
    body: { password: adminPassword },
    status: 200,
    fragment: `"token":"${adminToken}"`,
  },
  'POST /auth/logout': { url: '/auth/logout', status: 200, fragment: '"ok":true' },
  'GET /auth/session': { url: '/auth/session', status: 200, fragment: '"via":"token"' },
  'PUT /admin/password': {
    url: '/admin/password',
    body: { current: adminPassword },
    status: 200,
    fragment: '"password":"generated-password"',
    calls: ['auth.checkPassword', 'auth.setPassword', 'grants.revoke'],
  },
  'GET /apps': { url: '/apps', status: 200, fragment: '"fake":"app"' },
  'POST /apps': {
    url: '/apps?id=demo',
    payload: Buffer.from('not really a package'),
    status: 201,
    fragment: '"fake":"app"',
    calls: ['store.installUpload'],
  },
  'GET /apps/:id': { url: '/apps/demo', status: 200, fragment: '"fake":"app"' },
  'DELETE /apps/:id': { url: '/apps/demo?force=true', status: 200, fragment: '"ok":true' },
  'POST /apps/:id/:action': {
    url: '/apps/demo/restart',
    status: 200,
    fragment: '"changed":true',
    calls: ['apps.restartApp'],
  },
  'PATCH /apps/:id': {
    url: '/apps/demo',
    body: { cpuWeight: 200, logFiles: null },
    status: 200,
    fragment: '"fake":"app"',
    calls: ['apps.configure'],
  },
  'GET /apps/:id/logs': { url: '/apps/demo/logs?lines=1', status: 200, fragment: 'fake log line' },
  'GET /instances': {
    url: '/instances?app=demo&sort=size',
    status: 200,
    fragment: '"fake":"instance"',
  },
  'POST /instances': {
    url: '/instances',
    body: { app: 'demo', id: 'demo', path: '/demo' },
    status: 201,
    fragment: '"fake":"instance"',
  },
  'GET /instances/:id': {
    url: '/instances/demo?reveal=true',
    status: 200,
    fragment: '"url":"https://apps.example.com/demo"',
    calls: ['instances.show', 'settings.get'],
  },
  'PATCH /instances/:id': {
    url: '/instances/demo',
    body: { enabled: false, rotateDbPassword: true },
    status: 200,
    fragment: '"websocketUrl":"wss://apps.example.com/demo"',
    calls: ['instances.set', 'settings.get'],
  },
  'POST /instances/:id/trace': {
    url: '/instances/demo/trace',
    body: { changes: ['+sql'] },
    status: 200,
    fragment: '"fake":"instance"',
  },
  'POST /instances/:id/login': {
    url: '/instances/demo/login',
    body: { challenge: 'abc' },
    status: 200,
    fragment: '"fake":"admin-login"',
  },
  'POST /instances/:id/vacuum': {
    url: '/instances/demo/vacuum',
    body: { full: true },
    status: 200,
    fragment: '"fake":"vacuum"',
    calls: ['instances.vacuum'],
  },
  // A platform of one node (no cluster in the fakes): there is no node to move to.
  'POST /instances/:id/move': {
    url: '/instances/demo/move',
    body: { node: 'n2' },
    status: 404,
    fragment: '"code":"NODE_NOT_FOUND"',
  },
  'POST /instances/:id/open': {
    url: '/instances/demo/open',
    status: 200,
    fragment: '"token":"grant-token"',
    calls: ['instances.show', 'grants.issue'],
  },
  'POST /grants/exchange': {
    url: '/grants/exchange',
    body: { token: 'grant-token', challenge: 'abc' },
    status: 200,
    fragment: '"fake":"admin-login"',
    calls: ['grants.instanceOf', 'instances.adminLogin'],
  },
  'DELETE /instances/:id': {
    url: '/instances/demo',
    status: 200,
    fragment: '"ok":true',
    calls: ['instances.delete', 'grants.revoke'],
  },
  'GET /cert': { url: '/cert', status: 200, fragment: '"fake":"cert"' },
  'PUT /cert': {
    url: '/cert',
    body: { cert: 'PEM', key: 'PEM' },
    status: 200,
    fragment: '"fake":"cert"',
  },
  'POST /cert/reset': { url: '/cert/reset', status: 200, fragment: '"fake":"cert"' },
  'GET /settings': { url: '/settings', status: 200, fragment: '"fake":"settings"' },
  'PATCH /settings': {
    url: '/settings',
    body: { label: 'lab' },
    status: 200,
    fragment: '"fake":"settings"',
  },
  'GET /config/export': { url: '/config/export', status: 200, fragment: '"fake": "config"' },
  'POST /config/export': {
    url: '/config/export',
    body: { includeSecrets: true, passphrase: 'long enough' },
    status: 200,
    fragment: '"fake": "config"',
    calls: ['configTransfer.export'],
  },
  'POST /config/import': {
    url: '/config/import',
    body: { file: '{}', dryRun: true },
    status: 200,
    fragment: '"fake":"import"',
    calls: ['configTransfer.import'],
  },
  'GET /backups': { url: '/backups?instance=demo', status: 200, fragment: '"fake":"backup"' },
  'POST /backups': {
    url: '/backups',
    body: { instance: 'demo', verify: true },
    status: 201,
    fragment: '"fake":"backup"',
  },
  'POST /backups/restore': {
    url: '/backups/restore',
    body: { archive: 'a.tar.gz', into: 'demo' },
    status: 200,
    fragment: '"fake":"restored"',
  },
  'GET /backups/running': { url: '/backups/running', status: 200, fragment: '"fake":"running"' },
  'GET /backups/schedule': { url: '/backups/schedule', status: 200, fragment: '"fake":"schedule"' },
  'PUT /backups/schedule': {
    url: '/backups/schedule',
    body: { cron: null },
    status: 200,
    fragment: '"fake":"schedule"',
  },
  'GET /backups/files/*': {
    url: '/backups/files/demo/demo-0.tar',
    status: 200,
    fragment: 'fake archive demo/demo-0.tar',
    calls: ['backups.open'],
  },
  'PUT /backups/files/*': {
    url: '/backups/files/demo/demo-0.tar',
    payload: Buffer.from('not really an archive'),
    status: 201,
    fragment: '"fake":"uploaded"',
    calls: ['backups.receive'],
  },
  'GET /backup-targets': {
    url: '/backup-targets',
    status: 200,
    fragment: '"fake":"target"',
    calls: ['backups.listTargets'],
  },
  'POST /backup-targets': {
    url: '/backup-targets',
    body: { name: 'offsite', url: 'https://dav.example/backups', user: 'u', password: 'p' },
    status: 201,
    fragment: '"fake":"target"',
    calls: ['backups.addTarget'],
  },
  'DELETE /backup-targets/:name': {
    url: '/backup-targets/offsite',
    status: 200,
    fragment: '"ok":true',
    calls: ['backups.removeTarget'],
  },
  'POST /backup-targets/:name/test': {
    url: '/backup-targets/offsite/test',
    status: 200,
    fragment: '"fake":"probe"',
    calls: ['backups.testTarget'],
  },
  'GET /alarms': { url: '/alarms', status: 200, fragment: '"alarms":[]' },
  'GET /alarms/history': { url: '/alarms/history', status: 200, fragment: '"history":[]' },
  'GET /disk': { url: '/disk', status: 200, fragment: '"fake":"disk"' },
  'POST /disk/release': {
    url: '/disk/release',
    status: 200,
    fragment: '"fake":"disk"',
    calls: ['disk.release', 'disk.check'],
  },
  'GET /nodes': { url: '/nodes', status: 200, fragment: '"fake":"nodes"' },
  'POST /nodes/reconcile': { url: '/nodes/reconcile', status: 200, fragment: '"ok":true' },
  'POST /nodes/:id/drain': {
    url: '/nodes/n2/drain',
    status: 404,
    fragment: '"code":"NODE_NOT_FOUND"',
  },
  'POST /nodes/:id/undrain': {
    url: '/nodes/n2/undrain',
    status: 404,
    fragment: '"code":"NODE_NOT_FOUND"',
  },
  'DELETE /nodes/:id': {
    url: '/nodes/9b1f0c7e-node',
    status: 200,
    fragment: '"ok":true',
    calls: ['nodes.remove'],
  },
  'GET /diagnostics': { url: '/diagnostics', status: 200, fragment: 'fake archive' },
  'GET /monitor': { url: '/monitor', status: 200, fragment: '"fake":"now"' },
  'GET /monitor/history': {
    url: '/monitor/history?series=machine.cpu&resolution=raw',
    status: 200,
    fragment: '"fake":"history"',
  },
  'GET /metrics': { url: '/metrics', status: 200, fragment: 'fake_metric 1' },
  'GET /store/sources': { url: '/store/sources', status: 200, fragment: '"sources":[]' },
  'PUT /store/sources/:name': {
    url: '/store/sources/main',
    body: { url: 'https://store.example/apps.json' },
    status: 200,
    fragment: '"fake":"source"',
  },
  'DELETE /store/sources/:name': { url: '/store/sources/main', status: 200, fragment: '"ok":true' },
  'GET /store/apps': { url: '/store/apps', status: 200, fragment: '"fake":"listing"' },
  'GET /store/apps/:id': { url: '/store/apps/demo', status: 200, fragment: '"fake":"store-app"' },
  'POST /store/apps/:id/install': {
    url: '/store/apps/demo/install',
    body: { version: '1.0.0' },
    status: 200,
    fragment: '"fake":"store-install"',
  },
  'POST /store/apps/:id/update': {
    url: '/store/apps/demo/update',
    body: {},
    status: 200,
    fragment: '"fake":"store-update"',
  },
  'POST /store/update': {
    url: '/store/update',
    body: { force: true },
    status: 200,
    fragment: '"results":[]',
  },
  'GET /store/updates': { url: '/store/updates', status: 200, fragment: '"fake":"updates"' },
  'POST /store/check': { url: '/store/check', status: 200, fragment: '"fake":"updates"' },
  'GET /store/operations': { url: '/store/operations', status: 200, fragment: '"operations":[]' },
};

/** A value for each path parameter the routes have. */
const sampleParams: Record<string, string> = { id: 'demo', name: 'main', action: 'start' };

const keyOf = (route: ApiRoute) => `${route.method} ${route.url.slice(apiPrefix.length)}`;

function concreteUrl(route: ApiRoute): string {
  return route.url
    .slice(apiPrefix.length)
    .replace(/:([A-Za-z]+)/g, (_match, name: string) => sampleParams[name] ?? 'x');
}

const bodyRequired = (route: ApiRoute) =>
  ((route.schema.body as { required?: string[] } | undefined)?.required ?? []).length > 0;

/** What a bad input to the route must answer: an unknown field, named. */
function badInput(route: ApiRoute): Scenario {
  const url = concreteUrl(route);
  const base = { method: route.method, headers: admin, status: 400 };
  if (route.schema.body !== undefined) {
    return {
      ...base,
      name: 'bad body',
      url,
      body: { unexpectedField: 1 },
      // A route with required fields names the first one missing; the others the stranger.
      fragment: bodyRequired(route)
        ? 'must have required property'
        : 'body has an unknown field \\"unexpectedField\\"',
    };
  }
  return {
    ...base,
    name: 'bad query',
    url: `${url}?unexpectedField=1`,
    ...(route.streamedBody ? { payload: Buffer.from('x') } : {}),
    fragment: 'querystring has an unknown field \\"unexpectedField\\"',
  };
}

/**
 * The routes reachable without a login, and what they answer then. Written out rather than read
 * from the route table: a route made public by mistake must fail here.
 */
const publicScenarios: Record<string, Omit<Scenario, 'name' | 'method'>> = {
  'GET /health': { url: '/health', status: 200, fragment: '"status":"ok"', calls: [] },
  'POST /auth/login': {
    url: '/auth/login',
    body: { password: 'wrong' },
    // A login form posts from the admin UI's own origin.
    headers: { 'sec-fetch-site': 'same-origin' },
    status: 401,
    fragment: '"code":"LOGIN_FAILED"',
    calls: ['auth.login'],
  },
};

/** Without a login: 401 for every route but the public ones. */
function noAuth(route: ApiRoute): Scenario {
  const open = publicScenarios[keyOf(route)];
  if (open) return { ...open, name: 'no auth', method: route.method };
  return {
    name: 'no auth',
    method: route.method,
    url: concreteUrl(route),
    // Same-origin, as the admin UI sends it: the answer is about the login, not the origin.
    headers: { 'sec-fetch-site': 'same-origin' },
    ...(route.streamedBody ? { payload: Buffer.from('x') } : {}),
    status: 401,
    fragment: '"code":"UNAUTHORIZED"',
    calls: [],
  };
}

async function run(api: Api, scenario: Scenario, calls: string[]): Promise<void> {
  calls.length = 0;
  const headers: Record<string, string> = { ...scenario.headers };
  let payload: string | Buffer | undefined;
  if (scenario.payload !== undefined) {
    headers['content-type'] = 'application/octet-stream';
    payload = scenario.payload;
  } else if (scenario.body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(scenario.body);
  }
  const response = await api.app.inject({
    method: scenario.method as 'GET',
    url: `${apiPrefix}${scenario.url}`,
    headers,
    ...(payload !== undefined ? { payload } : {}),
  });
  const where = `${scenario.name}: ${scenario.method} ${scenario.url}`;
  assert.equal(response.statusCode, scenario.status, `${where} answered ${response.body}`);
  assert.ok(
    response.body.includes(scenario.fragment),
    `${where}: ${response.body} lacks ${scenario.fragment}`,
  );
  if (scenario.calls) assert.deepEqual(calls, scenario.calls, `${where}: service calls`);
}

describe('every API route x (no auth, admin, bad input), without a database', () => {
  const calls: string[] = [];
  let api: Api;
  before(async () => {
    api = await buildApi(fakeContext(calls));
  });
  after(() => api.close());

  test('every route has its admin scenario, and every scenario a route', () => {
    const keys = api.routes.map(keyOf);
    assert.ok(keys.length > 40, `${keys.length} routes`);
    assert.deepEqual(
      keys.filter((key) => !(key in adminScenarios)),
      [],
      'routes without an admin scenario',
    );
    assert.deepEqual(
      Object.keys(adminScenarios).filter((key) => !keys.includes(key)),
      [],
      'scenarios of no route',
    );
    assert.deepEqual(
      api.routes.filter((route) => route.public).map(keyOf),
      Object.keys(publicScenarios),
      'the public routes',
    );
  });

  test('no auth', async () => {
    for (const route of api.routes) await run(api, noAuth(route), calls);
  });

  test('admin', async () => {
    for (const route of api.routes) {
      const expected = adminScenarios[keyOf(route)];
      if (!expected) continue; // reported by the table check
      await run(api, { ...expected, name: 'admin', method: route.method, headers: admin }, calls);
    }
  });

  test('bad input', async () => {
    for (const route of api.routes) await run(api, badInput(route), calls);
  });
});
