/**
 * Fakes behind the API's narrow service views (`src/api/services.ts`): each answers a small
 * fixed value that names itself, so a scenario can tell which service method a route reached.
 * No database, no processes: building the API and injecting requests takes milliseconds.
 */
import { Readable } from 'node:stream';
import pino from 'pino';
import type { ApiContext } from '../../src/api/index.js';
import { AppvisorError } from '../../src/core/errors/index.js';

/** The bearer token the fake auth takes as the admin's. */
export const adminToken = 'admin-token-for-route-tests';

/** The password the fake auth takes. */
export const adminPassword = 'right-password';

const expiresAt = '2099-01-01T00:00:00.000Z';

/** A value of any shape for a fake to answer: the routes pass it through as JSON. */
function answer(value: object): never {
  return value as never;
}

const appStatus = { id: 'demo', state: 'running', fake: 'app' };
const instanceView = {
  id: 'demo',
  app: 'demo',
  domain: 'example.com',
  path: '/demo',
  fake: 'instance',
};

/** An API context whose services are fakes; `calls` records each method a route reached. */
export function fakeContext(calls: string[] = []): ApiContext {
  const called =
    <A extends unknown[], R>(name: string, result: (...args: A) => R) =>
    (...args: A): R => {
      calls.push(name);
      return result(...args);
    };
  const app = answer(appStatus);
  const instance = answer(instanceView);
  return {
    logger: pino({ level: 'silent' }),
    uiDir: '/nonexistent',
    auth: {
      verify: (token) => Promise.resolve(token === adminToken ? { expiresAt } : null),
      login: called('auth.login', (password) =>
        password === adminPassword
          ? Promise.resolve({ token: adminToken, expiresAt })
          : Promise.reject(new AppvisorError('LOGIN_FAILED')),
      ),
      logout: called('auth.logout', () => Promise.resolve()),
      checkPassword: called('auth.checkPassword', (password) =>
        password === adminPassword
          ? Promise.resolve()
          : Promise.reject(new AppvisorError('LOGIN_FAILED')),
      ),
      setPassword: called('auth.setPassword', (password) =>
        Promise.resolve(password === undefined ? 'generated-password' : undefined),
      ),
    },
    grants: {
      issue: called('grants.issue', () => ({ token: 'grant-token', expiresAt })),
      revoke: called('grants.revoke', () => undefined),
      instanceOf: called('grants.instanceOf', (token: string) =>
        token === 'grant-token' ? 'demo' : undefined,
      ),
    },
    apps: {
      list: called('apps.list', () => Promise.resolve([app])),
      status: called('apps.status', () => Promise.resolve(app)),
      uninstall: called('apps.uninstall', () => Promise.resolve()),
      startApp: called('apps.startApp', () => Promise.resolve({ changed: true, status: app })),
      stopApp: called('apps.stopApp', () => Promise.resolve({ changed: true, status: app })),
      restartApp: called('apps.restartApp', () => Promise.resolve({ changed: true, status: app })),
      configure: called('apps.configure', () => Promise.resolve(app)),
      logs: called('apps.logs', () =>
        Promise.resolve({ lines: ['fake log line\n'], follow: () => () => undefined }),
      ),
    },
    instances: {
      list: called('instances.list', () => [instance]),
      create: called('instances.create', () => Promise.resolve(instance)),
      show: called('instances.show', (id: string) => {
        if (id !== 'demo') throw new AppvisorError('INSTANCE_NOT_FOUND');
        return instance;
      }),
      set: called('instances.set', () => Promise.resolve(instance)),
      trace: called('instances.trace', () => Promise.resolve(instance)),
      adminLogin: called('instances.adminLogin', () =>
        answer({ fake: 'admin-login', challenge: 'signed' }),
      ),
      vacuum: called('instances.vacuum', (id: string) =>
        id === 'demo'
          ? Promise.resolve(answer({ fake: 'vacuum' }))
          : Promise.reject(new AppvisorError('INSTANCE_NOT_FOUND')),
      ),
      delete: called('instances.delete', () => Promise.resolve()),
    },
    backups: {
      list: called('backups.list', () => Promise.resolve([answer({ fake: 'backup' })])),
      create: called('backups.create', () => Promise.resolve(answer({ fake: 'backup' }))),
      restore: called('backups.restore', () => Promise.resolve(answer({ fake: 'restored' }))),
      running: called('backups.running', () => [answer({ fake: 'running' })]),
      schedule: called('backups.schedule', () => answer({ fake: 'schedule' })),
      setSchedule: called('backups.setSchedule', () =>
        Promise.resolve(answer({ fake: 'schedule' })),
      ),
      open: called('backups.open', (file: string) => {
        const bytes = Buffer.from(`fake archive ${file}`);
        return Promise.resolve({
          file,
          size: bytes.length,
          modifiedAt: new Date(0),
          etag: '"fake"',
          read: (range?: { start: number; end: number }) =>
            Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]),
          close: () => Promise.resolve(),
        });
      }),
      receive: called('backups.receive', async (file: string, source: Readable) => {
        await source.toArray();
        return answer({ fake: 'uploaded', file });
      }),
      listTargets: called('backups.listTargets', () =>
        Promise.resolve([answer({ fake: 'target' })]),
      ),
      addTarget: called('backups.addTarget', () => Promise.resolve(answer({ fake: 'target' }))),
      removeTarget: called('backups.removeTarget', () => Promise.resolve()),
      testTarget: called('backups.testTarget', () => Promise.resolve(answer({ fake: 'probe' }))),
    },
    appStore: {
      sources: {
        list: called('store.sources.list', () => Promise.resolve([])),
        put: called('store.sources.put', () => Promise.resolve(answer({ fake: 'source' }))),
        remove: called('store.sources.remove', () => Promise.resolve()),
      },
      list: called('store.list', () => Promise.resolve(answer({ fake: 'listing' }))),
      show: called('store.show', () => Promise.resolve(answer({ fake: 'store-app' }))),
      install: called('store.install', () => Promise.resolve(answer({ fake: 'store-install' }))),
      installUpload: called('store.installUpload', async (source: Readable) => {
        // Drained: the fake keeps nothing.
        source.resume();
        await new Promise((resolve) => source.once('end', resolve));
        return app;
      }),
      update: called('store.update', () => Promise.resolve(answer({ fake: 'store-update' }))),
      updateAll: called('store.updateAll', () => Promise.resolve({ results: [] })),
      updates: called('store.updates', () => answer({ fake: 'updates' })),
      check: called('store.check', () => Promise.resolve(answer({ fake: 'updates' }))),
      operations: called('store.operations', () => []),
    },
    certificates: {
      status: called('cert.status', () => answer({ fake: 'cert' })),
      set: called('cert.set', () => Promise.resolve(answer({ fake: 'cert' }))),
      reset: called('cert.reset', () => Promise.resolve(answer({ fake: 'cert' }))),
    },
    events: {
      list: called('events.list', () => Promise.resolve([])),
      subscribe: () => () => undefined,
    },
    alarms: {
      listed: called('alarms.listed', () => Promise.resolve([])),
      history: called('alarms.history', () => Promise.resolve([])),
    },
    disk: {
      report: called('disk.report', () => Promise.resolve(answer({ fake: 'disk' }))),
      release: called('disk.release', () => Promise.resolve(answer({ fake: 'disk' }))),
      check: called('disk.check', () => Promise.resolve(answer({ fake: 'disk' }))),
    },
    nodes: {
      report: called('nodes.report', () => Promise.resolve(answer({ fake: 'nodes' }))),
      remove: called('nodes.remove', () => Promise.resolve()),
    },
    diagnostics: called('diagnostics', () => Promise.resolve(Readable.from(['fake archive']))),
    configTransfer: {
      export: called('configTransfer.export', () => Promise.resolve(answer({ fake: 'config' }))),
      import: called('configTransfer.import', () =>
        Promise.resolve(answer({ fake: 'import', applied: true })),
      ),
    },
    settings: {
      get: called('settings.get', () =>
        Promise.resolve(answer({ fake: 'settings', dnsName: 'apps.example.com' })),
      ),
      update: called('settings.update', () => Promise.resolve(answer({ fake: 'settings' }))),
    },
    monitor: {
      current: called('monitor.current', () => Promise.resolve(answer({ fake: 'now' }))),
      history: called('monitor.history', () => answer({ fake: 'history' })),
    },
    metrics: {
      render: called('metrics.render', () => Promise.resolve('fake_metric 1\n')),
      renderPlatform: called('metrics.renderPlatform', () => Promise.resolve('fake_metric 2\n')),
      contentType: 'text/plain; version=0.0.4',
    },
    health: () => ({ status: 'ok', version: 'test', database: 'running' }),
    status: called('status', () => Promise.resolve(answer({ fake: 'status' }))),
  };
}
