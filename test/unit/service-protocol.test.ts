import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  maxFlagLength,
  parseMessage,
  parseServiceMessage,
  unnamedFailure,
  type InstanceInfo,
  type ManagerMessage,
  type ServiceMessage,
} from '../../src/lib/service-protocol.js';

// Both sides of the service protocol (docs/service-protocol.md): what a service makes of the
// manager's messages, and what the manager makes of a service's.

function info(id = 'acme'): InstanceInfo {
  return {
    id,
    app: 'echo',
    domain: 'example.com',
    path: '/example.com/acme',
    password: 'instance-secret',
    enabled: true,
    traceFlags: ['app', 'database'],
    dataDir: '/srv/appvisor/data/appdata/echo/acme',
    database: {
      host: '127.0.0.1',
      port: 5432,
      database: 'i_acme',
      user: 'i_acme',
      password: 'db-secret',
      url: 'postgres://i_acme:db-secret@127.0.0.1:5432/i_acme',
    },
  };
}

/** The reason a value is refused; fails when it is taken. */
function refusal(result: { ok: true } | { ok: false; reason: string }): string {
  assert.equal(result.ok, false, 'refused');
  return (result as { reason: string }).reason;
}

describe('parseMessage (the service reads the manager)', () => {
  test('takes every message the manager sends, as it was sent', () => {
    const messages: ManagerMessage[] = [
      { type: 'instance.start', instance: info() },
      { type: 'instance.update', instance: { ...info(), traceFlags: [], enabled: false } },
      { type: 'instance.stop', id: 'acme' },
      {
        type: 'upgrade',
        instance: 'acme',
        method: 'GET',
        url: '/example.com/acme/ws',
        headers: { upgrade: 'websocket', 'x-forwarded-for': ['a', 'b'] },
        head: '',
      },
      { type: 'shutdown' },
    ];
    for (const message of messages) {
      assert.deepEqual(parseMessage(message), { ok: true, message });
    }
  });

  test('copies the instance: keys it does not know are left out, later changes do not reach it', () => {
    const sent = { ...info(), newer: 'field', database: { ...info().database, sslmode: 'x' } };
    const result = parseMessage({ type: 'instance.start', instance: sent, extra: 1 });
    assert.ok(result.ok);
    assert.deepEqual(result.message, { type: 'instance.start', instance: info() });
    sent.traceFlags.push('sql');
    sent.database.port = 1;
    assert.deepEqual(result.message, { type: 'instance.start', instance: info() });
  });

  test('refuses what is not an object, or of a type it does not know', () => {
    for (const value of [null, undefined, 'shutdown', 42, true, [], [{ type: 'shutdown' }]]) {
      assert.equal(refusal(parseMessage(value)), 'a message that is not an object');
    }
    assert.equal(refusal(parseMessage({})), 'a message of unknown type undefined');
    assert.equal(refusal(parseMessage({ type: 7 })), 'a message of unknown type number');
    assert.equal(refusal(parseMessage({ type: 'ready' })), 'a message of unknown type "ready"');
    // The type a reason quotes is cut: a reason is reported, and must stay short.
    assert.equal(
      refusal(parseMessage({ type: 'x'.repeat(1000) })),
      `a message of unknown type "${'x'.repeat(60)}"`,
    );
  });

  test('refuses an instance with any field missing or of the wrong kind, naming the field', () => {
    const field = (patch: Record<string, unknown>) => ({ ...info(), ...patch });
    const db = (patch: Record<string, unknown>) =>
      field({ database: { ...info().database, ...patch } });
    const cases: [unknown, string][] = [
      [undefined, 'instance is not an object'],
      ['acme', 'instance is not an object'],
      [[info()], 'instance is not an object'],
      [field({ id: '' }), 'instance.id is not a non-empty string'],
      [field({ id: 'x'.repeat(201) }), 'instance.id is not a non-empty string'],
      [field({ id: 7 }), 'instance.id is not a non-empty string'],
      [field({ app: null }), 'instance.app is not a string'],
      [field({ domain: 1 }), 'instance.domain is not a string'],
      [field({ path: undefined }), 'instance.path is not a string'],
      [field({ password: {} }), 'instance.password is not a string'],
      [field({ dataDir: [] }), 'instance.dataDir is not a string'],
      [field({ enabled: 'true' }), 'instance.enabled is not a boolean'],
      [field({ traceFlags: 'app' }), 'instance.traceFlags is not a list of strings'],
      [field({ traceFlags: ['app', 1] }), 'instance.traceFlags is not a list of strings'],
      [field({ database: 'postgres://' }), 'instance.database is not an object'],
      [field({ database: null }), 'instance.database is not an object'],
      [db({ host: 1 }), 'instance.database.host is not a string'],
      [db({ database: null }), 'instance.database.database is not a string'],
      [db({ user: undefined }), 'instance.database.user is not a string'],
      [db({ password: 5 }), 'instance.database.password is not a string'],
      [db({ url: {} }), 'instance.database.url is not a string'],
      [db({ port: '5432' }), 'instance.database.port is not a port number'],
      [db({ port: 1.5 }), 'instance.database.port is not a port number'],
      [db({ port: -1 }), 'instance.database.port is not a port number'],
      [db({ port: 65_536 }), 'instance.database.port is not a port number'],
    ];
    for (const type of ['instance.start', 'instance.update'] as const) {
      for (const [instance, reason] of cases) {
        const why = refusal(parseMessage({ type, instance }));
        assert.equal(why, `${type}: ${reason}`);
        assert.ok(!why.includes('secret'), 'a reason names no secret');
      }
    }
    for (const port of [0, 65_535]) {
      assert.ok(parseMessage({ type: 'instance.start', instance: db({ port }) }).ok);
    }
  });

  test('refuses an instance.stop without an id', () => {
    for (const id of [undefined, '', 7, 'x'.repeat(201)]) {
      assert.equal(
        refusal(parseMessage({ type: 'instance.stop', id })),
        'instance.stop: id is not a non-empty string',
      );
    }
  });

  test('refuses an upgrade with any field missing or of the wrong kind', () => {
    const good = { type: 'upgrade', instance: 'a', method: 'GET', url: '/', headers: {}, head: '' };
    assert.ok(parseMessage(good).ok);
    for (const patch of [
      { instance: '' },
      { instance: 1 },
      { method: undefined },
      { url: null },
      { headers: [] },
      { headers: 'upgrade: websocket' },
      { head: Buffer.from('x') },
    ]) {
      assert.equal(
        refusal(parseMessage({ ...good, ...patch })),
        'upgrade: instance, method, url, headers or head missing',
      );
    }
  });
});

describe('parseServiceMessage (the manager reads a service)', () => {
  test('takes every message the SDK sends, as it was sent', () => {
    const messages: ServiceMessage[] = [
      { type: 'ready', httpSocket: '/run/appvisor/apps/echo/http.sock', handoff: true },
      { type: 'ready', httpSocket: null, handoff: false },
      { type: 'instance.ready', id: 'acme' },
      { type: 'instance.failed', id: 'acme', error: 'no database' },
      { type: 'instance.stopped', id: 'acme' },
      { type: 'log', instance: 'acme', flag: null, text: 'started' },
      { type: 'log', instance: 'acme', flag: 'database', text: 'SELECT 1' },
      { type: 'event', instance: 'acme', kind: 'import.done', severity: 'info', text: '12 rows' },
      {
        type: 'alarm',
        instance: 'acme',
        code: 'disk',
        severity: 'critical',
        text: 'full',
        active: true,
      },
      { type: 'alarm', instance: 'acme', code: 'disk', severity: 'info', text: '', active: false },
    ];
    for (const message of messages) {
      assert.deepEqual(parseServiceMessage(message), { ok: true, message });
    }
  });

  test('keeps only the fields it knows: nothing else of the value reaches the manager', () => {
    const value: unknown = JSON.parse(
      '{"__proto__":{"polluted":true},"type":"log","text":"t","extra":1,"constructor":"x"}',
    );
    const result = parseServiceMessage(value);
    assert.deepEqual(result, { ok: true, message: { type: 'log', flag: null, text: 't' } });
    assert.ok(result.ok);
    assert.deepEqual(Object.keys(result.message), ['type', 'flag', 'text']);
    assert.equal(Object.getPrototypeOf(result.message), Object.prototype);
  });

  test('refuses what is not an object, or of a type it does not know', () => {
    for (const value of [null, undefined, 'ready', 1e308, false, [], [{ type: 'ready' }]]) {
      assert.equal(refusal(parseServiceMessage(value)), 'a message that is not an object');
    }
    assert.equal(refusal(parseServiceMessage({})), 'a message of unknown type undefined');
    assert.equal(refusal(parseServiceMessage({ type: null })), 'a message of unknown type object');
    // The manager's own messages are not a service's.
    for (const type of ['instance.start', 'instance.stop', 'upgrade', 'shutdown', 'nosuch']) {
      assert.equal(
        refusal(parseServiceMessage({ type, id: 'a' })),
        `a message of unknown type ${JSON.stringify(type)}`,
      );
    }
  });

  test('ready: a socket path only when it is a string, a handoff only when it is true', () => {
    const ready = (fields: Record<string, unknown>) =>
      parseServiceMessage({ type: 'ready', ...fields });
    assert.deepEqual(ready({}), {
      ok: true,
      message: { type: 'ready', httpSocket: null, handoff: false },
    });
    for (const httpSocket of [42, ['/x'], {}, true]) {
      for (const handoff of ['true', 1, {}, null]) {
        assert.deepEqual(ready({ httpSocket, handoff }), {
          ok: true,
          message: { type: 'ready', httpSocket: null, handoff: false },
        });
      }
    }
    // Any string: which socket the front uses is the manager's choice, not the service's.
    assert.deepEqual(ready({ httpSocket: '', handoff: true }), {
      ok: true,
      message: { type: 'ready', httpSocket: '', handoff: true },
    });
  });

  test('instance.*: the instance is id, else instance; naming none is refused', () => {
    for (const type of ['instance.ready', 'instance.stopped'] as const) {
      assert.deepEqual(parseServiceMessage({ type, id: 'a', instance: 'b' }), {
        ok: true,
        message: { type, id: 'a' },
      });
      assert.deepEqual(parseServiceMessage({ type, id: 7, instance: 'b' }), {
        ok: true,
        message: { type, id: 'b' },
      });
      // An empty id is still the id the service named (it names no instance of the app).
      assert.deepEqual(parseServiceMessage({ type, id: '', instance: 'b' }), {
        ok: true,
        message: { type, id: '' },
      });
    }
    for (const type of ['instance.ready', 'instance.failed', 'instance.stopped']) {
      for (const fields of [{}, { id: 7 }, { id: null, instance: ['a'] }, { id: { id: 'a' } }]) {
        assert.equal(
          refusal(parseServiceMessage({ type, ...fields })),
          `${type}: id is not a string`,
        );
      }
    }
  });

  test('instance.failed: an error that is not a string is the unnamed failure', () => {
    for (const error of [undefined, null, 42, { message: 'x' }]) {
      assert.deepEqual(parseServiceMessage({ type: 'instance.failed', id: 'a', error }), {
        ok: true,
        message: { type: 'instance.failed', id: 'a', error: unnamedFailure },
      });
    }
    assert.deepEqual(parseServiceMessage({ type: 'instance.failed', instance: 'a', error: '' }), {
      ok: true,
      message: { type: 'instance.failed', id: 'a', error: '' },
    });
  });

  test('log: the instance when named, a flag cut or none, a text or an empty one; never refused', () => {
    const log = (fields: Record<string, unknown>) =>
      parseServiceMessage({ type: 'log', ...fields });
    assert.deepEqual(log({}), { ok: true, message: { type: 'log', flag: null, text: '' } });
    assert.deepEqual(log({ id: 'a', instance: 'b', flag: 'sql', text: 'x' }), {
      ok: true,
      message: { type: 'log', instance: 'a', flag: 'sql', text: 'x' },
    });
    assert.deepEqual(log({ id: 1, instance: 'b', flag: 'f'.repeat(100), text: ['x'] }), {
      ok: true,
      message: { type: 'log', instance: 'b', flag: 'f'.repeat(maxFlagLength), text: '' },
    });
    assert.deepEqual(log({ instance: null, flag: 5, text: 'x'.repeat(100_000) }), {
      ok: true,
      message: { type: 'log', flag: null, text: 'x'.repeat(100_000) },
    });
    assert.equal(maxFlagLength, 64);
  });

  test('event: an unknown severity is info, a kind that is no short word is event; never refused', () => {
    const event = (fields: Record<string, unknown>) =>
      parseServiceMessage({ type: 'event', ...fields });
    assert.deepEqual(event({}), {
      ok: true,
      message: { type: 'event', kind: 'event', severity: 'info', text: '' },
    });
    for (const severity of ['info', 'warning', 'error', 'critical'] as const) {
      assert.deepEqual(event({ id: 'a', kind: 'A-z_0.9', severity, text: 't' }), {
        ok: true,
        message: { type: 'event', instance: 'a', kind: 'A-z_0.9', severity, text: 't' },
      });
    }
    for (const severity of ['INFO', 'fatal', '', 3, null]) {
      const result = event({ kind: 'k', severity });
      assert.ok(result.ok && result.message.type === 'event');
      assert.equal(result.message.severity, 'info');
    }
    for (const kind of ['', '.x', '-x', 'two words', 'a/b', 'k'.repeat(65), 7, ['k'], 'ä']) {
      const result = event({ kind });
      assert.ok(result.ok && result.message.type === 'event');
      assert.equal(result.message.kind, 'event', JSON.stringify(kind));
    }
    const long = event({ kind: 'k'.repeat(64) });
    assert.ok(long.ok && long.message.type === 'event');
    assert.equal(long.message.kind, 'k'.repeat(64));
  });

  test('alarm: a code that is no short word is refused, an unknown severity is warning, only false clears', () => {
    const alarm = (fields: Record<string, unknown>) =>
      parseServiceMessage({ type: 'alarm', ...fields });
    assert.deepEqual(alarm({ code: 'disk' }), {
      ok: true,
      message: { type: 'alarm', code: 'disk', severity: 'warning', text: '', active: true },
    });
    assert.deepEqual(alarm({ id: 'a', instance: 'b', code: 'disk', severity: 'x', active: 0 }), {
      ok: true,
      message: {
        type: 'alarm',
        instance: 'a',
        code: 'disk',
        severity: 'warning',
        text: '',
        active: true,
      },
    });
    for (const active of [true, 'false', null, undefined, 0]) {
      const result = alarm({ code: 'disk', active });
      assert.ok(result.ok && result.message.type === 'alarm');
      assert.equal(result.message.active, true, JSON.stringify(active));
    }
    const cleared = alarm({ code: 'disk', active: false, severity: 'critical', text: 5 });
    assert.deepEqual(cleared, {
      ok: true,
      message: { type: 'alarm', code: 'disk', severity: 'critical', text: '', active: false },
    });
    for (const code of [undefined, '', '.x', 'two words', 'app:other:x', 'k'.repeat(65), 7]) {
      assert.equal(refusal(alarm({ code, active: true })), 'alarm: code is not a short word');
    }
  });
});
