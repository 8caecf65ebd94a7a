import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { SecretBox } from '../../src/lib/secret-box.js';
import type { ForwardedServiceMessage, ServiceChannel } from '../../src/core/apps/index.js';
import { parseServiceMessage } from '../../src/lib/service-protocol.js';
import type { InstanceDatabase } from '../../src/core/database/index.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import {
  InstanceService,
  type InstanceDatabases,
  type InstanceServiceOptions,
} from '../../src/core/instances/index.js';
import {
  FakeAlarms,
  FakeEvents,
  rejectsWith as rejects,
  settle,
  silentLogger,
  tempFolder,
  until,
} from './core-fakes.js';
import { FakeClock } from './fake-process.js';
import { FakeStore, type StoredRow } from './fake-store.js';

// The instance service behind its narrow interfaces: fakes for the store, the database server,
// the app service, the services' channels and the clock; data folders in a temporary folder.
// What needs PostgreSQL (roles that really reach only their database, a swap in one
// transaction) is left to test/daemon/instances.test.ts and the restore tests.

const nodeId = 'node-a1b2c3d4';

/** The database server: which databases exist, and every call. */
class FakeDatabases implements InstanceDatabases {
  readonly names = new Set<string>();
  readonly calls: string[] = [];
  /** When set, `ensure` fails with it (once). */
  failEnsure: Error | undefined;

  endpoint = () => ({ host: '127.0.0.1', port: 5999 });

  ensure = (db: InstanceDatabase): Promise<void> => {
    this.calls.push(`ensure ${db.name} limit ${db.connectionLimit}`);
    const error = this.failEnsure;
    this.failEnsure = undefined;
    if (error) return Promise.reject(error);
    this.names.add(db.name);
    return Promise.resolve();
  };

  drop = (name: string): Promise<void> => {
    this.calls.push(`drop ${name}`);
    this.names.delete(name);
    return Promise.resolve();
  };

  resetRoles = (dbs: readonly InstanceDatabase[]): Promise<void> => {
    this.calls.push(`resetRoles ${dbs.map((db) => db.name).join(' ')}`);
    return Promise.resolve();
  };

  createStaging = (name: string, role: string): Promise<void> => {
    this.calls.push(`createStaging owned by ${role}`);
    this.names.add(name);
    return Promise.resolve();
  };

  exists = (name: string) => Promise.resolve(this.names.has(name));

  dropDatabase = (name: string): Promise<void> => {
    this.calls.push(`dropDatabase ${name.startsWith('av_') ? name.split('_')[1] : name}`);
    this.names.delete(name);
    return Promise.resolve();
  };

  swap = (live: string, staging: string, retired: string): Promise<void> => {
    this.calls.push(`swap ${live}`);
    this.names.delete(staging);
    this.names.add(retired);
    return Promise.resolve();
  };

  dropLeftovers = (tag: string, keep: readonly string[]): Promise<string[]> => {
    const dropped = [...this.names].filter(
      (name) => /^av_(restore|old)_/.test(name) && name.includes(tag) && !keep.includes(name),
    );
    for (const name of dropped) this.names.delete(name);
    return Promise.resolve(dropped);
  };

  running = () => true;

  /** Each database that exists takes 8 MiB. */
  sizes = (names: readonly string[]): Promise<Map<string, number | null>> =>
    Promise.resolve(new Map(names.map((name) => [name, this.names.has(name) ? 8 << 20 : null])));

  /** Staging, scratch and retired databases that exist. */
  restoreNames(): string[] {
    return [...this.names].filter((name) => name.startsWith('av_'));
  }
}

/** What a service says, as its channel hands it on: parsed by the protocol's own checks. */
function say(
  service: Pick<InstanceService, 'serviceMessage'>,
  app: string,
  raw: Record<string, unknown>,
): void {
  const parsed = parseServiceMessage(raw);
  assert.ok(parsed.ok, `the message is one of the protocol: ${JSON.stringify(raw)}`);
  service.serviceMessage(app, parsed.message as ForwardedServiceMessage);
}

/** A service's channel: what the manager sent it; it answers instance.stop when told to. */
class FakeChannel implements ServiceChannel {
  readonly sent: Record<string, unknown>[] = [];
  /** Called with each message, to answer it. */
  answer: ((message: Record<string, unknown>) => void) | undefined;

  send(message: object): boolean {
    const sent = message as Record<string, unknown>;
    this.sent.push(sent);
    if (this.answer) queueMicrotask(() => this.answer?.(sent));
    return true;
  }

  sendSocket(_message: object, socket: Socket): boolean {
    socket.destroy();
    return true;
  }

  /** The types sent, with the instance each is about. */
  types(): string[] {
    return this.sent.map((message) => {
      const instance = message.instance as { id?: string } | undefined;
      const id = (message.id as string | undefined) ?? instance?.id;
      return `${message.type as string} ${id ?? '-'}`;
    });
  }
}

/** An instance service over fakes, in its own temporary folder (not started). */
async function setup(more: Partial<InstanceServiceOptions> = {}) {
  const root = await tempFolder('av-instances-unit-');
  const store = new FakeStore();
  const databases = new FakeDatabases();
  const alarms = new FakeAlarms();
  const events = new FakeEvents();
  const clock = new FakeClock();
  const notes: string[] = [];
  const secrets = new SecretBox(randomBytes(32));
  const hosting: Record<string, boolean> = { notes: true, tasks: true, plain: false };
  const options: InstanceServiceOptions = {
    store,
    database: databases,
    apps: {
      dataFolder: (app) => join(root, 'appdata', app),
      hostsInstances: (app) => hosting[app],
      note: (app, text) => notes.push(`${app}: ${text}`),
      ownerOf: () => null,
      traceFlagsOf: (app) => (app === 'notes' ? ['sync'] : []),
    },
    events,
    alarms,
    maxAppAlarms: 3,
    logger: silentLogger,
    nodeId,
    secrets,
    connectionLimit: 7,
    startTimeoutMs: 30_000,
    restoreStagingDir: join(root, 'appdata', '.restores'),
    diskPath: root,
    clock,
    ...more,
  };
  const make = () => new InstanceService(options);
  const service = make();
  await service.start();
  /** The app's service becomes ready: the manager hosts its instances in it. */
  const serve = async (app = 'notes', answers = true) => {
    const channel = new FakeChannel();
    if (answers) {
      channel.answer = (message) => {
        if (message.type === 'instance.stop') {
          say(service, app, { type: 'instance.stopped', id: message.id });
        }
      };
    }
    service.serviceReady(app, channel);
    // Hosting prepares each folder first: then every enabled instance is on its way.
    const hosted = () => service.list({ app }).filter((view) => view.enabled);
    await until(() => hosted().every((view) => view.state !== 'stopped'), `${app} hosting`);
    return channel;
  };
  return { root, service, make, serve, store, databases, alarms, events, clock, notes, secrets };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

describe('instances: create and delete (fakes behind the narrow interfaces)', () => {
  test('create validates everything before it touches the store or the database', async () => {
    const { service, store, databases } = await setup();
    const read = store.statements.length;
    await rejects(service.create('notes', 'bad id!'), 'INVALID_INSTANCE', 'id');
    await rejects(service.create('notes', 'x'.repeat(65)), 'INVALID_INSTANCE', 'id');
    await rejects(service.create('nothing', 'acme'), 'APP_NOT_FOUND', 'app');
    await rejects(service.create('plain', 'acme'), 'INSTANCES_UNSUPPORTED', 'app');
    await rejects(
      service.create('notes', 'acme', { domain: 'no_domain' }),
      'INVALID_INSTANCE',
      'domain',
    );
    for (const path of ['/', 'relative', '/a/../b', '/a//b', '/manager/x', '/.appvisor']) {
      await rejects(service.create('notes', 'acme', { path }), 'INVALID_INSTANCE', 'path');
    }
    await rejects(
      service.create('notes', 'acme', { password: 'short' }),
      'INVALID_INSTANCE',
      'password',
    );
    assert.equal(store.statements.length, read, 'the store is not asked');
    assert.deepEqual(databases.calls, []);
    assert.deepEqual(service.list(), []);
  });

  test('create makes the row, database and folder, then lists it; stopped until hosted', async () => {
    const { service, store, databases, events, root } = await setup();
    const view = await service.create('notes', 'acme', {
      domain: 'Example.ORG.',
      password: 'pass-word-1',
    });
    assert.equal(view.domain, 'example.org');
    assert.equal(view.path, '/example.org/acme');
    assert.equal(view.state, 'stopped');
    assert.equal(view.password, undefined, 'no secret unless asked');
    assert.equal(service.show('acme', { reveal: true }).password, 'pass-word-1');
    assert.equal(view.dataDir, join(root, 'appdata', 'notes', 'acme'));
    assert.equal((await stat(view.dataDir)).mode & 0o777, 0o700);
    assert.deepEqual(databases.calls, ['ensure i_acme limit 7']);
    assert.equal(store.instances.get('acme')?.provisioning, 'ready');
    assert.deepEqual(events.kinds(), ['instance.created']);
    assert.deepEqual(
      service.list().map((item) => item.id),
      ['acme'],
    );
    assert.deepEqual(service.list({ app: 'tasks' }), []);
    assert.deepEqual(service.resolve('/example.org/acme/page'), {
      id: 'acme',
      app: 'notes',
      path: '/example.org/acme',
      ready: false,
    });
    assert.equal(service.appOf('acme'), 'notes');
    assert.deepEqual(await service.instanceIds('notes'), ['acme']);
    assert.equal(service.secretsOf('acme').length, 3);
  });

  test('a taken id or path is refused with its code and field; nothing else changes', async () => {
    const { service, store, databases } = await setup();
    await service.create('notes', 'acme', { path: '/shop' });
    await rejects(service.create('tasks', 'acme'), 'INSTANCE_EXISTS', 'id');
    await rejects(service.create('notes', 'beta', { path: '/shop/' }), 'PATH_TAKEN', 'path');
    assert.deepEqual([...store.instances.keys()], ['acme']);
    assert.deepEqual(databases.calls, ['ensure i_acme limit 7']);
    assert.deepEqual(
      service.list().map((item) => item.id),
      ['acme'],
    );
  });

  test('a creation that fails midway is undone: no row, no database, no folder', async () => {
    const { service, store, databases, root } = await setup();
    databases.failEnsure = new Error('the database server is gone');
    await assert.rejects(service.create('notes', 'acme'), /the database server is gone/);
    assert.deepEqual([...store.instances.keys()], []);
    assert.deepEqual(databases.calls, ['ensure i_acme limit 7', 'drop i_acme']);
    assert.equal(await exists(join(root, 'appdata', 'notes', 'acme')), false);
    assert.deepEqual(service.list(), []);
    await service.create('notes', 'acme');
    assert.deepEqual(
      service.list().map((item) => item.id),
      ['acme'],
      'the id is free again',
    );
  });

  test('delete stops it in its service, then drops database, folder, row and its alarms', async () => {
    const { service, serve, store, databases, alarms, events } = await setup();
    const view = await service.create('notes', 'acme');
    await service.create('notes', 'beta');
    const channel = await serve();
    alarms.raise('backup-failed', 'error', 'failed', 'acme');
    alarms.raise('app:notes:quota', 'warning', 'quota', 'acme');
    alarms.raise('app:notes:quota', 'warning', 'quota', 'beta');
    alarms.raise('app:notes:quota', 'warning', 'quota', 'notes');
    await service.delete('acme');
    assert.deepEqual(channel.types().slice(-1), ['instance.stop acme']);
    assert.ok(databases.calls.includes('drop i_acme'));
    assert.equal(await exists(view.dataDir), false);
    assert.deepEqual([...store.instances.keys()], ['beta']);
    assert.deepEqual(
      service.list().map((item) => item.id),
      ['beta'],
    );
    assert.equal(service.resolve(view.path), undefined);
    assert.deepEqual(
      alarms.active().map((alarm) => `${alarm.code} ${alarm.subject}`),
      ['app:notes:quota beta', 'app:notes:quota notes'],
    );
    assert.deepEqual(events.kinds().slice(-1), ['instance.deleted']);
    await rejects(service.delete('acme'), 'INSTANCE_NOT_FOUND');
    await rejects(service.delete('bad id!'), 'INVALID_INSTANCE', 'id');
    await rejects(service.set('acme', { enabled: false }), 'INSTANCE_NOT_FOUND');
  });

  test('a service that never answers instance.stop: the delete goes on after 10 s', async () => {
    const { service, serve, clock, store } = await setup();
    await service.create('notes', 'acme');
    const channel = await serve('notes', false);
    const deleting = service.delete('acme');
    await until(() => channel.types().includes('instance.stop acme'), 'the stop');
    await settle();
    assert.ok(store.instances.has('acme'), 'waits for the answer');
    clock.advance(10_000);
    await deleting;
    assert.deepEqual([...store.instances.keys()], []);
  });

  test('removeAll deletes every instance of an app, and only those', async () => {
    const { service } = await setup();
    await service.create('notes', 'acme');
    await service.create('notes', 'beta');
    await service.create('tasks', 'todo');
    await service.removeAll('notes');
    assert.deepEqual(
      service.list().map((item) => item.id),
      ['todo'],
    );
  });
});

describe('instances: hosting in their service (fakes behind the narrow interfaces)', () => {
  test('a ready service gets instance.start for its enabled instances; answers move the state', async () => {
    const { service, serve, databases, events } = await setup();
    await service.create('notes', 'acme');
    await service.create('notes', 'beta');
    await service.set('beta', { enabled: false });
    await service.create('tasks', 'todo');
    const changes: string[] = [];
    const off = service.onStateChange((app) => changes.push(app));
    const channel = await serve('notes');
    assert.deepEqual(channel.types(), ['instance.start acme']);
    const started = channel.sent[0]!.instance as Record<string, unknown>;
    assert.equal(started.path, service.show('acme').path);
    assert.deepEqual(
      (started.database as Record<string, unknown>).host,
      '127.0.0.1',
      'the instance is told its database',
    );
    assert.ok(databases.calls.includes('resetRoles i_acme'), 'roles reset before hosting');
    assert.equal(service.show('acme').state, 'starting');
    assert.equal(service.show('beta').state, 'disabled');
    assert.equal(service.show('todo').state, 'stopped', 'another app is not hosted');

    say(service, 'tasks', { type: 'instance.ready', id: 'acme' });
    assert.equal(service.show('acme').state, 'starting', 'another app cannot speak for it');
    say(service, 'notes', { type: 'instance.ready', id: 'acme' });
    assert.equal(service.show('acme').state, 'ready');
    assert.equal(service.resolve('/x')?.ready, undefined);
    assert.equal(service.resolve(service.show('acme').path)?.ready, true);

    say(service, 'notes', {
      type: 'instance.failed',
      id: 'acme',
      error: 'boom\u001b[2J',
    });
    say(service, 'notes', { type: 'instance.failed', id: 'acme', error: 'again' });
    const failed = service.show('acme');
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error, 'boom\\x1b[2J', 'control characters escaped');
    assert.equal(events.kinds().filter((kind) => kind === 'instance.failed').length, 1);

    service.serviceGone('notes');
    assert.equal(service.show('acme').state, 'stopped');
    assert.ok(changes.length > 0 && changes.every((app) => app === 'notes'));
    off();
  });

  test('no answer to instance.start within the time: failed, with an event', async () => {
    const { service, serve, clock, events } = await setup();
    await service.create('notes', 'acme');
    await serve();
    clock.advance(29_999);
    assert.equal(service.show('acme').state, 'starting');
    clock.advance(1);
    const view = service.show('acme');
    assert.equal(view.state, 'failed');
    assert.match(view.error ?? '', /did not answer within 30 s/);
    assert.deepEqual(events.kinds().slice(-1), ['instance.failed']);
  });

  test("a service's events and alarms are its own: prefixed, bounded per app", async () => {
    const { service, alarms, events, notes } = await setup();
    await service.create('notes', 'acme');
    say(service, 'notes', { type: 'event', kind: 'sync', text: 'synced', id: 'acme' });
    assert.deepEqual(
      events.recorded.slice(-1).map((e) => [e.kind, e.subject]),
      [['app.sync', 'acme']],
    );
    for (const code of ['a', 'b', 'c', 'd', 'e']) {
      say(service, 'notes', { type: 'alarm', code, text: `alarm ${code}` });
    }
    assert.deepEqual(
      alarms.active().map((alarm) => alarm.code),
      ['app:notes:a', 'app:notes:b', 'app:notes:c'],
    );
    assert.equal(notes.length, 1, 'the app is told once that its alarms are full');
    say(service, 'notes', { type: 'alarm', code: 'backup-failed', active: false });
    say(service, 'notes', { type: 'alarm', code: 'a', active: false });
    assert.equal(alarms.active().length, 2);
  });

  test('settings: a new path moves the route; a taken one changes nothing', async () => {
    const { service, serve, store } = await setup();
    await service.create('notes', 'acme', { path: '/acme' });
    await service.create('notes', 'beta', { path: '/beta' });
    const channel = await serve();
    say(service, 'notes', { type: 'instance.ready', id: 'acme' });
    const moved = await service.set('acme', { path: '/shop/' });
    assert.equal(moved.path, '/shop');
    assert.equal(service.resolve('/acme'), undefined);
    assert.equal(service.resolve('/shop/x')?.id, 'acme');
    assert.deepEqual(
      channel.types().slice(-1),
      ['instance.update acme'],
      'the running instance is told',
    );
    await rejects(service.set('acme', { path: '/beta' }), 'PATH_TAKEN', 'path');
    await rejects(service.set('acme', { path: '/manager' }), 'INVALID_INSTANCE', 'path');
    await rejects(service.set('acme', { password: 'short' }), 'INVALID_INSTANCE', 'password');
    await rejects(service.set('acme', { domain: '-bad-' }), 'INVALID_INSTANCE', 'domain');
    assert.equal(service.show('acme').path, '/shop');
    assert.equal(store.instances.get('acme')?.path, '/shop');
    assert.equal(service.resolve('/beta')?.id, 'beta');
    const excluded = await service.set('acme', { excludeFromBackup: true });
    assert.equal(excluded.excludeFromBackup, true);
  });

  test('settings: disable stops it in its service, enable starts it again', async () => {
    const { service, serve, store } = await setup();
    await service.create('notes', 'acme');
    const channel = await serve();
    say(service, 'notes', { type: 'instance.ready', id: 'acme' });
    const disabled = await service.set('acme', { enabled: false });
    assert.equal(disabled.state, 'disabled');
    assert.equal(store.instances.get('acme')?.enabled, false);
    assert.deepEqual(channel.types().slice(-1), ['instance.stop acme']);
    // A restarted service does not host a disabled instance.
    service.serviceGone('notes');
    const again = await serve();
    assert.deepEqual(again.types(), []);
    const enabled = await service.set('acme', { enabled: true });
    assert.equal(enabled.state, 'starting');
    assert.deepEqual(again.types(), ['instance.start acme']);
  });

  test('trace flags: the platform and the app ones, unknown refused, the running instance told', async () => {
    const { service, serve, store } = await setup();
    await service.create('notes', 'acme');
    const channel = await serve();
    say(service, 'notes', { type: 'instance.ready', id: 'acme' });
    const view = await service.trace('acme', ['+sync', 'webserver']);
    assert.deepEqual(view.traceFlags, ['sync', 'webserver']);
    assert.ok(view.traceFlagsAvailable.includes('sync'));
    assert.deepEqual(store.instances.get('acme')?.trace_flags, ['sync', 'webserver']);
    assert.deepEqual(channel.types().slice(-1), ['instance.update acme']);
    await rejects(service.trace('acme', ['+nosuchflag']), 'INVALID_INSTANCE', 'changes');
    assert.deepEqual((await service.trace('acme', ['-sync'])).traceFlags, ['webserver']);
  });

  test('an admin login needs a well-formed challenge', async () => {
    const { service } = await setup();
    await service.create('notes', 'acme');
    assert.equal(service.adminLogin('acme', 'abc123').login.app, 'notes');
    assert.throws(
      () => service.adminLogin('acme', 'not a challenge'),
      (error: unknown) => error instanceof AppvisorError && error.code === 'BAD_REQUEST',
    );
  });
});

describe('instances: start, backups and restores (fakes behind the narrow interfaces)', () => {
  test('start loads what is ready and undoes or finishes what a crash cut off', async () => {
    const { store, databases, make, alarms, root, secrets } = await setup();
    const row = (id: string, provisioning: StoredRow['provisioning']): StoredRow => ({
      id,
      node_id: nodeId,
      app: 'notes',
      domain: 'example.org',
      path: `/${id}`,
      password_sealed: secrets.seal('pass-word-1'),
      db_name: `i_${id}`,
      db_password_sealed: secrets.seal('db-password'),
      trace_flags: [],
      enabled: true,
      exclude_from_backup: false,
      provisioning,
      created_at: new Date(0),
    });
    store.put(row('kept', 'ready'));
    store.put(row('halfmade', 'creating'));
    store.put(row('halfgone', 'deleting'));
    store.put({ ...row('elsewhere', 'ready'), node_id: 'another-node' });
    await mkdir(join(root, 'appdata', 'notes', 'halfmade'), { recursive: true });
    alarms.raise('app:notes:quota', 'warning', 'quota', 'halfgone');
    alarms.raise('app:notes:quota', 'warning', 'quota', 'kept');
    const service = make();
    await service.start();
    assert.deepEqual(
      service.list().map((view) => view.id),
      ['kept'],
    );
    assert.deepEqual([...store.instances.keys()].sort(), ['elsewhere', 'kept']);
    assert.deepEqual(databases.calls, ['drop i_halfmade', 'drop i_halfgone']);
    assert.equal(await exists(join(root, 'appdata', 'notes', 'halfmade')), false);
    assert.deepEqual(
      alarms.active().map((alarm) => alarm.subject),
      ['kept'],
    );
  });

  test('a backup runs in the queue: a delete waits for it, one after a delete finds nothing', async () => {
    const { service, store } = await setup();
    await service.create('notes', 'acme');
    let release = (): void => undefined;
    const gate = new Promise<void>((done) => (release = done));
    const order: string[] = [];
    const backup = service.whileBackingUp('acme', async (source) => {
      assert.equal(source.view.id, 'acme');
      assert.equal(source.connection.role, 'i_acme');
      assert.equal(source.connection.user, 'm_acme');
      await gate;
      order.push('backup');
    });
    const deleting = service.delete('acme').then(() => order.push('delete'));
    await settle();
    const deleteBegan = () => store.statements.some((sql) => sql.includes("'deleting'"));
    assert.ok(!deleteBegan(), 'the delete waits for the backup');
    release();
    await Promise.all([backup, deleting]);
    assert.deepEqual(order, ['backup', 'delete']);
    await rejects(
      service.whileBackingUp('acme', () => Promise.resolve()),
      'INSTANCE_NOT_FOUND',
    );
  });

  test('a restore swaps the database and folder in only when the new ones are complete', async () => {
    const { service, serve, store, databases, events } = await setup();
    const view = await service.create('notes', 'acme');
    await writeFile(join(view.dataDir, 'live.txt'), 'live');
    const channel = await serve();
    say(service, 'notes', { type: 'instance.ready', id: 'acme' });

    await assert.rejects(
      service.replaceContents('acme', async ({ folder }) => {
        await writeFile(join(folder, 'half.txt'), 'half');
        throw new Error('the archive is damaged');
      }),
      /the archive is damaged/,
    );
    assert.equal(await readFile(join(view.dataDir, 'live.txt'), 'utf8'), 'live');
    assert.deepEqual(databases.restoreNames(), [], 'the staging database is dropped');
    assert.deepEqual(store.operations, [], 'the journal is empty');
    assert.equal(service.show('acme').state, 'ready', 'a failed restore does not stop it');

    databases.calls.length = 0;
    await service.replaceContents('acme', async ({ folder, connection }) => {
      assert.equal(connection.role, 'i_acme');
      assert.match(connection.database, /^av_restore_/);
      await writeFile(join(folder, 'restored.txt'), 'restored');
    });
    assert.equal(await exists(join(view.dataDir, 'live.txt')), false);
    assert.equal(await readFile(join(view.dataDir, 'restored.txt'), 'utf8'), 'restored');
    assert.deepEqual(databases.calls, [
      'resetRoles i_acme',
      'createStaging owned by i_acme',
      'swap i_acme',
    ]);
    assert.deepEqual(store.operations, []);
    assert.deepEqual(channel.types().slice(-2), ['instance.stop acme', 'instance.start acme']);
    assert.deepEqual(events.kinds().slice(-1), ['instance.restored']);
    await rejects(
      service.replaceContents('nobody', () => Promise.resolve()),
      'INSTANCE_NOT_FOUND',
    );
  });

  test('a restore cut off after its swap began is finished at the next start', async () => {
    const { service, make, store, databases, root } = await setup();
    const view = await service.create('notes', 'acme');
    await writeFile(join(view.dataDir, 'live.txt'), 'live');
    // What a manager killed in the swap left: the journal at `swap`, the new folder staged.
    const staging = join(root, 'appdata', '.restores');
    const newFolder = join(staging, 'new-acme-0123456789ab');
    await mkdir(newFolder, { recursive: true });
    await writeFile(join(newFolder, 'restored.txt'), 'restored');
    const tag = nodeId
      .replace(/[^a-z0-9]/gi, '')
      .slice(0, 8)
      .toLowerCase();
    databases.names.add(`av_restore_${tag}_0123456789ab`);
    store.operations.push({
      node_id: nodeId,
      kind: 'restore',
      subject: 'acme',
      step: 'swap',
      data: {
        stagingDb: `av_restore_${tag}_0123456789ab`,
        retired: `av_old_${tag}_0123456789ab`,
        newFolder,
        oldFolder: join(staging, 'old-acme-0123456789ab'),
      },
      started_at: new Date(0),
    });
    await make().start();
    assert.equal(await readFile(join(view.dataDir, 'restored.txt'), 'utf8'), 'restored');
    assert.equal(await exists(join(view.dataDir, 'live.txt')), false);
    assert.deepEqual(store.operations, []);
    assert.deepEqual(databases.restoreNames(), [], 'the retired database is dropped');
  });

  test('a scratch database for a test restore is dropped whatever happens', async () => {
    const { service, databases } = await setup();
    await service.create('notes', 'acme');
    await assert.rejects(
      service.withScratchDatabase('acme', (connection) => {
        assert.match(connection.database, /^av_restore_/);
        return Promise.reject(new Error('the replay failed'));
      }),
      /the replay failed/,
    );
    assert.deepEqual(databases.restoreNames(), []);
    await service.repairAccess('acme');
    assert.deepEqual(databases.calls.slice(-1), ['resetRoles i_acme']);
  });
});
