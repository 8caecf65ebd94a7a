import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { KeyedQueue } from '../../src/lib/keyed-queue.js';
import { TypedEmitter } from '../../src/lib/typed-emitter.js';
import type { AppContext } from '../../src/core/apps/context.js';
import { install, uninstall } from '../../src/core/apps/install.js';
import { httpSocketPath } from '../../src/core/apps/sdk.js';
import { closeChannel, onServiceMessage } from '../../src/core/apps/service-channel.js';
import { defaultServiceLimits, MessageLimiter } from '../../src/core/apps/service-limits.js';
import type {
  AppInstances,
  AppServiceEvents,
  LoadedApp,
  ServiceChannel,
  UpdateGuard,
} from '../../src/core/apps/types.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import { ServiceMessages } from '../../src/core/instances/service-messages.js';

// The parts of the app service behind its narrow interfaces (AppInstances, UpdateGuard, the
// events), with fakes for what is below them: no PostgreSQL, no processes.

const runDir = '/run/appvisor-test';

interface Fake {
  ctx: AppContext;
  app: LoadedApp;
  channel: ServiceChannel;
  lines: [string, string][];
  notes: string[];
  emitted: { name: keyof AppServiceEvents; payload: unknown }[];
  readyCalls: number;
  calls: string[];
}

function fake(
  options: { instances?: AppInstances; updateGuard?: UpdateGuard; othersBurst?: number } = {},
): Fake {
  const state = { readyCalls: 0 };
  const lines: [string, string][] = [];
  const notes: string[] = [];
  const calls: string[] = [];
  const emitter = new TypedEmitter<AppServiceEvents>();
  const emitted: Fake['emitted'] = [];
  for (const name of ['service.ready', 'service.message', 'service.gone'] as const) {
    emitter.on(name, (payload) => emitted.push({ name, payload }));
  }
  const channel: ServiceChannel = { send: () => true, sendSocket: () => true };
  const limits = {
    ...defaultServiceLimits,
    others: { perSecond: 0.001, burst: options.othersBurst ?? 1000 },
  };
  const app = {
    record: { id: 'notes', autostart: false, unixUser: null },
    manifest: { instances: true },
    log: {
      write: (tag: string, text: string) => lines.push([tag, text]),
      note: (text: string) => notes.push(text),
      remove: () => {
        calls.push('log.remove');
        return Promise.resolve();
      },
    },
    supervisor: {
      state: 'starting',
      pid: null,
      ready: () => {
        state.readyCalls += 1;
      },
      stop: () => Promise.resolve({ changed: true }),
    },
    limiter: new MessageLimiter({ limits, report: () => undefined, flooding: () => undefined }),
    channel,
    httpSocket: null,
    oomKillsAtStart: 0,
    memoryKills: 0,
    pidWrites: Promise.resolve(),
  } as unknown as LoadedApp;
  const apps = new Map([['notes', app]]);
  const record = (name: string) => {
    calls.push(name);
    return Promise.resolve();
  };
  const ctx = {
    options: {
      runDir,
      appsDir: tmpdir(),
      instances: () => options.instances,
      updateGuard: () => options.updateGuard,
      events: { record: (event: { kind: string }) => calls.push(`event ${event.kind}`) },
      alarms: { active: () => [], raise: () => undefined, clear: () => undefined },
      logger: { warn: () => undefined, error: () => undefined, info: () => undefined },
    },
    catalog: {
      stage: () => Promise.resolve({ id: 'notes', manifest: { version: '2.0.0' } }),
      discard: () => record('catalog.discard'),
      get: () => Promise.resolve(app.record),
      save: () => record('catalog.save'),
      remove: () => record('catalog.remove'),
      removeFolders: () => record('catalog.removeFolders'),
    },
    apps,
    queue: new KeyedQueue(),
    emitter,
    users: { drop: () => record('users.drop') },
    get: (id: string) => {
      const found = apps.get(id);
      if (!found) throw new AppvisorError('APP_NOT_FOUND', `no app "${id}" is installed`);
      return found;
    },
    stopProcess: () => {
      calls.push('stopProcess');
      return Promise.resolve({ changed: true });
    },
  } as unknown as AppContext;
  return {
    ctx,
    app,
    channel,
    lines,
    notes,
    emitted,
    calls,
    get readyCalls() {
      return state.readyCalls;
    },
  };
}

function instancesOf(owners: Record<string, string>): AppInstances & { removed: string[] } {
  const removed: string[] = [];
  return {
    removed,
    appOf: (instance) => owners[instance],
    instanceIds: (app) =>
      Promise.resolve(
        Object.entries(owners)
          .filter(([, owner]) => owner === app)
          .map(([id]) => id),
      ),
    removeAll: (app) => {
      removed.push(app);
      return Promise.resolve();
    },
  };
}

describe('the service channel', () => {
  test('ready: the supervisor is told, the assigned socket is used, service.ready is emitted', () => {
    const f = fake();
    onServiceMessage(f.ctx, f.app, f.channel, {
      type: 'ready',
      httpSocket: '/run/appvisor/admin.sock',
      handoff: true,
    });
    assert.equal(f.readyCalls, 1);
    // Never the path the service names: it could be the admin socket or another app's.
    assert.equal(f.app.httpSocket, httpSocketPath(runDir, 'notes'));
    assert.equal(typeof f.app.handoff, 'function');
    assert.ok(f.notes.some((note) => note.includes('named another HTTP socket')));
    assert.deepEqual(f.emitted, [
      { name: 'service.ready', payload: { app: 'notes', channel: f.channel } },
    ]);
  });

  test('a log line is filed under the instance only when the instance is the app\u2019s own', () => {
    const f = fake({ instances: instancesOf({ a1: 'notes', b1: 'other' }) });
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'log', id: 'a1', text: 'mine' });
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'log', instance: 'b1', text: 'theirs' });
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'log', text: 'sql', flag: 'sql' });
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'log', text: 'plain', flag: 'app' });
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'log', text: 42 });
    assert.deepEqual(f.lines, [
      ['a1', 'mine'],
      ['notes', 'theirs'],
      ['notes', 'sql: sql'],
      ['notes', 'plain'],
      ['notes', ''],
    ]);
    // A log line goes straight to the app's log: nothing above hears of it.
    assert.deepEqual(f.emitted, []);
  });

  test('other messages go up as service.message, within the rate limits', () => {
    const f = fake({ othersBurst: 2 });
    for (let i = 0; i < 3; i += 1) {
      onServiceMessage(f.ctx, f.app, f.channel, { type: 'instance.ready', id: `a${i}` });
    }
    assert.deepEqual(
      f.emitted.map(({ name, payload }) => [name, payload]),
      [
        ['service.message', { app: 'notes', message: { type: 'instance.ready', id: 'a0' } }],
        ['service.message', { app: 'notes', message: { type: 'instance.ready', id: 'a1' } }],
      ],
    );
  });

  test('what is not an object, or comes from a channel that is no longer the app\u2019s, is dropped', () => {
    const f = fake();
    onServiceMessage(f.ctx, f.app, f.channel, 'ready');
    onServiceMessage(f.ctx, f.app, f.channel, null);
    const old: ServiceChannel = { send: () => true, sendSocket: () => true };
    onServiceMessage(f.ctx, f.app, old, { type: 'ready' });
    assert.equal(f.readyCalls, 0);
    assert.deepEqual(f.emitted, []);
  });

  test('an unknown type or an array counts against the limits, then goes nowhere', () => {
    const f = fake({ othersBurst: 2 });
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'nosuch', id: 'a0' });
    onServiceMessage(f.ctx, f.app, f.channel, []);
    // The burst is spent: this one is dropped too.
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'instance.ready', id: 'a0' });
    assert.deepEqual(f.emitted, []);
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'ready' });
    assert.equal(f.readyCalls, 0);
  });

  test('the end of the process closes the channel once, with service.gone', () => {
    const f = fake();
    onServiceMessage(f.ctx, f.app, f.channel, { type: 'ready', httpSocket: 'x', handoff: true });
    f.emitted.length = 0;
    closeChannel(f.ctx, f.app);
    closeChannel(f.ctx, f.app);
    assert.equal(f.app.channel, undefined);
    assert.equal(f.app.httpSocket, null);
    assert.equal(f.app.handoff, undefined);
    assert.deepEqual(f.emitted, [{ name: 'service.gone', payload: { app: 'notes' } }]);
  });

  test('a handoff to a channel that is gone destroys the socket', () => {
    const f = fake();
    let sent = false;
    const channel: ServiceChannel = { send: () => true, sendSocket: () => sent };
    f.app.channel = channel;
    onServiceMessage(f.ctx, f.app, channel, { type: 'ready', handoff: true });
    f.app.channel = undefined;
    let destroyed = false;
    const socket = {
      destroy: () => {
        destroyed = true;
      },
    } as unknown as Socket;
    f.app.handoff?.({ type: 'http' }, socket);
    assert.equal(destroyed, true);
    sent = true;
  });
});

describe('what the manager makes of a sloppy service message', () => {
  /** The channel with the instances' ServiceMessages behind it, recording what they do. */
  function sloppy(maxAppAlarms = 20) {
    const f = fake({ instances: instancesOf({ a1: 'notes' }) });
    const done: string[] = [];
    const messages = new ServiceMessages({
      apps: { note: (app: string, text: string) => done.push(`note ${app} ${text}`) },
      events: {
        record: (e: { kind: string; severity: string; subject: string; text: string }) =>
          done.push(`event ${e.kind} ${e.severity} ${e.subject} ${JSON.stringify(e.text)}`),
      },
      alarms: {
        active: () => [],
        raise: (code: string, severity: string, text: string, subject?: string) =>
          done.push(`raise ${code} ${severity} ${subject ?? '-'} ${JSON.stringify(text)}`),
        clear: (code: string, text: string, subject?: string) =>
          done.push(`clear ${code} ${subject ?? '-'} ${JSON.stringify(text)}`),
      },
      maxAppAlarms,
    } as unknown as ConstructorParameters<typeof ServiceMessages>[0]);
    f.ctx.emitter.on('service.message', ({ app, message }) => {
      if (message.type === 'event' || message.type === 'alarm') {
        messages.handle(app, undefined, message);
      }
    });
    const send = (...bodies: unknown[]) => {
      for (const body of bodies) onServiceMessage(f.ctx, f.app, f.channel, body);
    };
    return { f, done, send };
  }

  test('ready: a socket that is not a string is none; a handoff that is not true is none', () => {
    const { f, send } = sloppy();
    send({ type: 'ready', httpSocket: 42, handoff: 'yes' });
    assert.equal(f.readyCalls, 1);
    assert.equal(f.app.httpSocket, null);
    assert.equal(f.app.handoff, undefined);
  });

  test('log: id before instance, a flag cut to 64 characters or none, a text or nothing', () => {
    const { f, send } = sloppy();
    send(
      { type: 'log', id: 'a1', instance: 'b1', text: 'by id' },
      { type: 'log', id: 7, instance: 'a1', flag: 'f'.repeat(70), text: 'long flag' },
      { type: 'log', instance: 'a1', flag: ['sql'], text: ['x'] },
    );
    assert.deepEqual(f.lines, [
      ['a1', 'by id'],
      ['a1', `${'f'.repeat(64)}: long flag`],
      ['a1', ''],
    ]);
  });

  test('event: an unknown severity is info, a kind that is no short word is event, a text or nothing', () => {
    const { done, send } = sloppy();
    send(
      { type: 'event', kind: 'import.done', severity: 'error', text: 'ok' },
      { type: 'event', kind: 'app.started', severity: 'loud', text: 42 },
      { type: 'event', kind: 'two words', text: 'line\nbreak' },
      { type: 'event', kind: 'k'.repeat(65) },
      { type: 'event' },
    );
    assert.deepEqual(done, [
      'event app.import.done error notes "ok"',
      'event app.started info notes ""',
      'event app.event info notes "line\\\\nbreak"',
      'event app.event info notes ""',
      'event app.event info notes ""',
    ]);
  });

  test('alarm: a code that is no short word is ignored, an unknown severity is warning, only false clears', () => {
    const { done, send } = sloppy();
    send(
      { type: 'alarm', code: 'disk', severity: 'critical', text: 'full', active: true },
      { type: 'alarm', code: 'disk', severity: 'loud', active: 0 },
      { type: 'alarm', code: 'disk', active: false },
      { type: 'alarm', code: 'disk', text: 'done', active: false },
      { type: 'alarm', code: 'two words', active: true },
      { type: 'alarm', code: 7 },
      { type: 'alarm' },
    );
    assert.deepEqual(done, [
      'raise app:notes:disk critical notes "full"',
      'raise app:notes:disk warning notes ""',
      'clear app:notes:disk notes "disk cleared"',
      'clear app:notes:disk notes "done"',
    ]);
  });
});

describe('install and uninstall behind the narrow interfaces', () => {
  test('a before-update guard that fails refuses the install: the staged package is discarded', async () => {
    const guard: UpdateGuard = {
      beforeUpdate: (app) =>
        Promise.reject(new AppvisorError('BAD_REQUEST', `no backup of ${app}`)),
    };
    const f = fake({ updateGuard: guard });
    await assert.rejects(install(f.ctx, '/tmp/notes.zip', {}), /no backup of notes/);
    assert.deepEqual(f.calls, ['catalog.discard']);
  });

  test('an app store update that backed up already skips the guard', async () => {
    let asked = false;
    const guard: UpdateGuard = {
      beforeUpdate: () => {
        asked = true;
        return Promise.resolve();
      },
    };
    const f = fake({ updateGuard: guard });
    // The fake catalog cannot swap the folder in: the install fails after the guard.
    await assert.rejects(install(f.ctx, '/tmp/notes.zip', { skipUpdateHook: true }));
    assert.equal(asked, false);
  });

  test('an app with instances is not uninstalled without force', async () => {
    const instances = instancesOf({ a1: 'notes', a2: 'notes', b1: 'other' });
    const f = fake({ instances });
    await assert.rejects(
      uninstall(f.ctx, 'notes', {}),
      (error: AppvisorError) => error.code === 'APP_HAS_INSTANCES' && /a1, a2/.test(error.message),
    );
    assert.deepEqual(instances.removed, []);
    assert.deepEqual(f.calls, []);
    assert.ok(f.ctx.apps.has('notes'));
  });

  test('uninstall --force deletes the instances first, then the app', async () => {
    const instances = instancesOf({ a1: 'notes' });
    const f = fake({ instances });
    await uninstall(f.ctx, 'notes', { force: true });
    assert.deepEqual(instances.removed, ['notes']);
    assert.deepEqual(f.calls, [
      'stopProcess',
      'catalog.remove',
      'catalog.removeFolders',
      'log.remove',
      'event app.uninstalled',
    ]);
    assert.equal(f.ctx.apps.has('notes'), false);
  });
});
