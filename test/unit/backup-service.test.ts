import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { KeyedQueue } from '../../src/lib/keyed-queue.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { BackupService, type BackupServiceOptions } from '../../src/core/backup/index.js';
import type { BackupInstances, CronScheduler, DumpTools } from '../../src/core/backup/model.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import type {
  InstanceConnection,
  InstanceView,
  RestoreTarget,
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
import { FakeStore } from './fake-store.js';

// The backup service behind its narrow interfaces: fakes for the instances subsystem, the dump
// tool (no PostgreSQL, no pg_dump), the store, the cron job and the clock; real archives in a
// temporary folder. A test restore that succeeds needs PostgreSQL: test/daemon/backup-verify.

/** A plain dump as pg_dump writes it: one table of `rows` rows. */
function dumpText(database: string, rows: number): string {
  const lines = Array.from({ length: rows }, (_, n) => `${n + 1}`);
  return [
    '--',
    `-- PostgreSQL database dump of ${database}`,
    '--',
    '',
    "SET client_encoding = 'UTF8';",
    '',
    '--',
    '-- Data for Name: items; Type: TABLE DATA; Schema: public; Owner: -',
    '--',
    '',
    'COPY public.items (id) FROM stdin;',
    ...lines,
    '\\.',
    '',
    '--',
    '-- PostgreSQL database dump complete',
    '--',
    '',
  ].join('\n');
}

/** The dump tool: each dump is the instance's text, or fails; each replay is kept as text. */
class FakeTools implements DumpTools {
  readonly dumped: string[] = [];
  readonly replayed: { sql: string; role: string | undefined; database: string }[] = [];
  /** Dumps of these databases fail midway. */
  readonly failing = new Set<string>();
  /** When set, each dump waits for this before it ends (to hold dumps running). */
  hold: Promise<void> | undefined;
  running = 0;
  mostRunning = 0;

  check = () => Promise.resolve({ version: 'pg_dump (PostgreSQL) 18.0' });

  dump = (source: { database: string }): Readable => {
    this.dumped.push(source.database);
    const failing = this.failing.has(source.database);
    const hold = this.hold;
    const text = dumpText(source.database, 2);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const tools = this;
    async function* produce(): AsyncGenerator<string> {
      tools.running++;
      tools.mostRunning = Math.max(tools.mostRunning, tools.running);
      try {
        yield text.slice(0, 40);
        if (hold) await hold;
        if (failing) throw new AppvisorError('DUMP_FAILED', 'pg_dump: connection lost');
        yield text.slice(40);
      } finally {
        tools.running--;
      }
    }
    return Readable.from(produce());
  };

  replay: DumpTools['replay'] = async (script, login, options) => {
    let sql = '';
    for await (const chunk of script) sql += (chunk as Buffer).toString('utf8');
    this.replayed.push({ sql, role: options.role, database: login.database });
    return { queries: 1, copiedRows: 0, tables: {}, skippedSettings: [] };
  };
}

/** The instances subsystem as backups see it: views, folders, a queue per instance. */
class FakeInstances implements BackupInstances {
  readonly views = new Map<string, InstanceView>();
  readonly queue = new KeyedQueue();
  readonly calls: string[] = [];
  /** What filled each instance's new folder in a restore. */
  readonly filled = new Map<string, string>();

  constructor(readonly root: string) {}

  async add(id: string, app = 'notes', options: { excluded?: boolean } = {}): Promise<void> {
    const dataDir = join(this.root, 'data', id);
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'note.txt'), `a note of ${id}\n`);
    this.views.set(id, {
      id,
      app,
      domain: 'example.org',
      path: `/example.org/${id}`,
      enabled: true,
      excludeFromBackup: options.excluded ?? false,
      traceFlags: [],
      traceFlagsAvailable: [],
      state: 'ready',
      error: null,
      since: new Date(0).toISOString(),
      createdAt: new Date(0).toISOString(),
      database: `i_${id}`,
      databaseUser: `i_${id}`,
      dataDir,
      usage: { databaseBytes: null, filesBytes: null, filesComplete: false, measuredAt: null },
      vacuum: null,
    });
  }

  #connection(id: string): InstanceConnection {
    return {
      host: '127.0.0.1',
      port: 1,
      user: `m_${id}`,
      password: 'secret',
      database: `i_${id}`,
      role: `i_${id}`,
    };
  }

  list(filter: { app?: string } = {}): InstanceView[] {
    return [...this.views.values()].filter(
      (view) => filter.app === undefined || view.app === filter.app,
    );
  }

  show(id: string): InstanceView {
    const view = this.views.get(id);
    if (!view) throw new AppvisorError('INSTANCE_NOT_FOUND', `no instance "${id}"`);
    return view;
  }

  backupSource(id: string) {
    const view = this.show(id);
    return { view, connection: this.#connection(id), dataDir: view.dataDir };
  }

  whileBackingUp<T>(
    id: string,
    backup: (source: ReturnType<FakeInstances['backupSource']>) => Promise<T>,
  ): Promise<T> {
    this.show(id);
    return this.queue.run(id, () => backup(this.backupSource(id)));
  }

  repairAccess(id: string): Promise<void> {
    this.calls.push(`repairAccess ${id}`);
    return Promise.resolve();
  }

  async #fill(id: string, fill: (target: RestoreTarget) => Promise<void>): Promise<void> {
    const folder = join(this.root, 'restored', `${id}-${this.filled.size}`);
    await mkdir(folder, { recursive: true });
    await fill({ connection: { ...this.#connection(id), database: 'av_restore_x' }, folder });
    this.filled.set(id, folder);
  }

  async replaceContents(
    id: string,
    prepare: (target: RestoreTarget) => Promise<void>,
  ): Promise<void> {
    this.show(id);
    this.calls.push(`replaceContents ${id}`);
    await this.queue.run(id, () => this.#fill(id, prepare));
  }

  async create(
    app: string,
    id: string,
    options: { domain?: string; fill?: (target: RestoreTarget) => Promise<void> } = {},
  ): Promise<InstanceView> {
    if (this.views.has(id)) {
      throw new AppvisorError('INSTANCE_EXISTS', `an instance "${id}" exists already`, {
        field: 'id',
      });
    }
    this.calls.push(`create ${app} ${id} ${options.domain}`);
    if (options.fill) await this.#fill(id, options.fill);
    await this.add(id, app);
    return this.show(id);
  }

  /** A scratch database needs PostgreSQL: here it always fails. */
  withScratchDatabase<T>(id: string): Promise<T> {
    this.show(id);
    this.calls.push(`scratch ${id}`);
    return Promise.reject(new Error('no scratch database without PostgreSQL'));
  }
}

/** A cron job the test fires. */
class FakeCron {
  readonly jobs: { pattern: string; run: () => Promise<void>; stopped: boolean }[] = [];
  readonly schedule: CronScheduler = (pattern, run) => {
    const job = { pattern, run, stopped: false };
    this.jobs.push(job);
    return {
      nextRun: () => (job.stopped ? null : new Date(Date.UTC(2030, 0, 1))),
      stop: () => {
        job.stopped = true;
      },
    };
  };

  /** The job that runs now. */
  get armed() {
    return this.jobs.filter((job) => !job.stopped);
  }

  async fire(): Promise<void> {
    assert.equal(this.armed.length, 1, 'one job is armed');
    await this.armed[0]!.run();
  }
}

/** A backup service over fakes, in its own temporary folder. */
async function setup(options: Partial<BackupServiceOptions> = {}) {
  const root = await tempFolder('av-backup-unit-');
  const folder = join(root, 'backups');
  const instances = new FakeInstances(root);
  await instances.add('acme');
  await instances.add('beta');
  const store = new FakeStore();
  const alarms = new FakeAlarms();
  const events = new FakeEvents();
  const tools = new FakeTools();
  const cron = new FakeCron();
  const clock = new FakeClock();
  clock.time = Date.UTC(2025, 0, 2, 3, 4, 5);
  const make = (more: Partial<BackupServiceOptions> = {}) =>
    new BackupService({
      store,
      instances,
      apps: { status: (id: string) => Promise.resolve({ id, version: '1.2.3' }) as never },
      events,
      alarms,
      logger: silentLogger,
      folder,
      secrets: new SecretBox(randomBytes(32)),
      parallel: 2,
      label: () => Promise.resolve('box'),
      clock,
      tools,
      cron: cron.schedule,
      ...options,
      ...more,
    });
  const service = make();
  await service.start();
  return { root, folder, service, make, instances, store, alarms, events, tools, cron, clock };
}

/** The archives under `folder`, relative, sorted. */
async function filesIn(folder: string): Promise<string[]> {
  const found = await readdir(folder, { recursive: true, withFileTypes: true });
  return found
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1))
    .filter((file) => !file.startsWith('.'))
    .sort();
}

describe('backup service (fakes behind its narrow interfaces)', () => {
  test('a backup is named by the template at the time of the clock, and list shows it', async () => {
    const { service, folder, instances, tools, events, alarms } = await setup();
    alarms.raise('backup-failed', 'error', 'an earlier failure', 'acme');
    const entry = await service.create('acme');
    assert.equal(entry.file, 'notes/acme-20250102-030405.tar');
    assert.equal(entry.app, 'notes');
    assert.equal(entry.appVersion, '1.2.3');
    assert.equal(entry.instance, 'acme');
    assert.equal(entry.createdAt, '2025-01-02T03:04:05.000Z');
    assert.equal(entry.encrypted, false);
    assert.deepEqual(tools.dumped, ['i_acme']);
    assert.deepEqual(instances.calls, ['repairAccess acme']);
    assert.deepEqual(events.kinds(), ['backup.created']);
    assert.equal(alarms.get('backup-failed', 'acme'), undefined, 'a success clears the alarm');
    assert.deepEqual(await filesIn(folder), ['notes/acme-20250102-030405.tar']);
    const listed = await service.list();
    assert.deepEqual(
      listed.map((item) => item.file),
      ['notes/acme-20250102-030405.tar'],
    );
    assert.deepEqual(await service.list({ instance: 'beta' }), []);
  });

  test('an unknown instance, a bad template: the right code and field, nothing dumped', async () => {
    const { service, folder, tools } = await setup();
    await rejects(service.create('nobody'), 'INSTANCE_NOT_FOUND', 'instance');
    await rejects(
      service.create('acme', { template: '#A/#x.tar' }),
      'TEMPLATE_INVALID',
      'template',
    );
    await rejects(
      service.create('acme', { template: '../#I.tar' }),
      'TEMPLATE_INVALID',
      'template',
    );
    assert.deepEqual(tools.dumped, []);
    assert.deepEqual(await filesIn(folder), []);
  });

  test('an instance gone while its backup waited in its queue is INSTANCE_NOT_FOUND', async () => {
    const { service, instances, tools } = await setup();
    let release = (): void => undefined;
    const gate = new Promise<void>((done) => (release = done));
    const held = instances.queue.run('acme', () => gate);
    const backup = service.create('acme');
    instances.views.delete('acme');
    release();
    await held;
    await rejects(backup, 'INSTANCE_NOT_FOUND', 'instance');
    assert.deepEqual(tools.dumped, []);
  });

  test('a failed dump raises backup-failed and leaves no archive; the next success clears it', async () => {
    const { service, folder, tools, alarms } = await setup();
    tools.failing.add('i_acme');
    await rejects(service.create('acme'), 'BACKUP_FAILED');
    assert.match(alarms.get('backup-failed', 'acme')?.text ?? '', /connection lost/);
    assert.deepEqual(await filesIn(folder), []);
    tools.failing.clear();
    await service.create('acme');
    assert.equal(alarms.get('backup-failed', 'acme'), undefined);
  });

  test('at most `parallel` dumps at once; two backups of one name at once keep both', async () => {
    const { service, folder, tools, instances } = await setup({ parallel: 1 });
    await instances.add('gamma');
    let release = (): void => undefined;
    tools.hold = new Promise<void>((done) => (release = done));
    const running = ['acme', 'beta', 'gamma'].map((id) => service.create(id));
    const twice = [service.create('acme'), service.create('acme')];
    await until(() => tools.running === 1, 'the first dump');
    await new Promise((done) => setTimeout(done, 20));
    await settle();
    assert.equal(tools.running, 1, 'one dump runs, the others wait');
    release();
    await Promise.all([...running, ...twice]);
    assert.equal(tools.mostRunning, 1);
    assert.deepEqual(await filesIn(folder), [
      'notes/acme-20250102-030405-2.tar',
      'notes/acme-20250102-030405-3.tar',
      'notes/acme-20250102-030405.tar',
      'notes/beta-20250102-030405.tar',
      'notes/gamma-20250102-030405.tar',
    ]);
  });

  test('rolling slots: a missing slot first, then the oldest is replaced', async () => {
    const { service, folder, clock } = await setup();
    const template = '#L/#I-#bn.tar';
    assert.equal((await service.create('acme', { template, slots: 2 })).file, 'box/acme-0.tar');
    assert.equal((await service.create('acme', { template, slots: 2 })).file, 'box/acme-1.tar');
    // Slot 1 is the older one now: it is replaced next.
    await utimes(join(folder, 'box/acme-1.tar'), 1000, 1000);
    clock.time += 60_000;
    const third = await service.create('acme', { template, slots: 2 });
    assert.equal(third.file, 'box/acme-1.tar');
    assert.equal(third.createdAt, '2025-01-02T03:05:05.000Z');
    assert.deepEqual(await filesIn(folder), ['box/acme-0.tar', 'box/acme-1.tar']);
  });

  test('the schedule is validated field by field, stored, and read again at start', async () => {
    const { service, store, cron, make } = await setup();
    assert.deepEqual(service.schedule(), {
      cron: null,
      template: '#A/#I-#d.tar',
      slots: 3,
      keep: 0,
      verify: false,
      target: null,
      nextRun: null,
    });
    await rejects(service.setSchedule({ cron: 'every day' }), 'BAD_REQUEST', 'cron');
    await rejects(service.setSchedule({ slots: 0 }), 'BAD_REQUEST', 'slots');
    await rejects(service.setSchedule({ slots: 1.5 }), 'BAD_REQUEST', 'slots');
    await rejects(service.setSchedule({ keep: -1 }), 'BAD_REQUEST', 'keep');
    await rejects(service.setSchedule({ keep: 10_001 }), 'BAD_REQUEST', 'keep');
    await rejects(service.setSchedule({ verify: 'yes' as never }), 'BAD_REQUEST', 'verify');
    await rejects(service.setSchedule({ template: '/abs.tar' }), 'TEMPLATE_INVALID', 'template');
    assert.equal(store.settings.size, 0, 'nothing stored before it is valid');
    assert.equal(cron.jobs.length, 0);

    const set = await service.setSchedule({ cron: '0 3 * * *', keep: 2 });
    assert.equal(set.nextRun, '2030-01-01T00:00:00.000Z');
    assert.deepEqual(
      cron.armed.map((job) => job.pattern),
      ['0 3 * * *'],
    );
    assert.deepEqual(store.settings.get('backup.schedule'), {
      cron: '0 3 * * *',
      template: '#A/#I-#d.tar',
      slots: 3,
      keep: 2,
      verify: false,
      target: null,
    });

    await service.setSchedule({ cron: '*/5 * * * *' });
    assert.deepEqual(
      cron.armed.map((job) => job.pattern),
      ['*/5 * * * *'],
      'the old job stops',
    );
    const again = make();
    await again.start();
    assert.equal(again.schedule().cron, '*/5 * * * *');
    assert.equal(again.schedule().keep, 2);
    await again.close();
    await service.setSchedule({ cron: null });
    assert.equal(service.schedule().nextRun, null);
    await service.close();
    assert.deepEqual(cron.armed, [], 'closing stops every job');
  });

  test('a scheduled run backs up every instance not excluded and keeps the newest `keep`', async () => {
    const { service, folder, instances, tools, cron, clock } = await setup();
    await instances.add('quiet', 'notes', { excluded: true });
    await instances.add('broken');
    tools.failing.add('i_broken');
    // An archive of another kind in the same folder: retention leaves it alone.
    await mkdir(join(folder, 'notes'), { recursive: true });
    await writeFile(join(folder, 'notes', 'readme.txt'), 'not a backup\n');
    await service.setSchedule({ cron: '0 * * * *', keep: 2 });
    for (let run = 0; run < 3; run++) {
      await cron.fire();
      clock.time += 3600_000;
    }
    assert.deepEqual(await filesIn(folder), [
      'notes/acme-20250102-040405.tar',
      'notes/acme-20250102-050405.tar',
      'notes/beta-20250102-040405.tar',
      'notes/beta-20250102-050405.tar',
      'notes/readme.txt',
    ]);
    assert.ok(!tools.dumped.includes('i_quiet'), 'an excluded instance is not backed up');
    const result = await service.runSchedule();
    assert.deepEqual(result.failed, ['broken'], 'a failure is reported, not thrown');
    assert.deepEqual(result.ok.sort(), ['acme', 'beta']);
  });

  test('pre-update backups have their own names and retention, never the schedule slots', async () => {
    const { service, folder, clock, events } = await setup({
      updates: { template: '#A/before-update/#I-#d.tar', keep: 2 },
    });
    await service.setSchedule({ template: '#A/#I-#bn.tar', slots: 1 });
    await service.create('acme');
    for (let update = 0; update < 3; update++) {
      await service.beforeUpdate('notes');
      clock.time += 1000;
    }
    assert.deepEqual(await filesIn(folder), [
      'notes/acme-0.tar',
      'notes/before-update/acme-20250102-030406.tar',
      'notes/before-update/acme-20250102-030407.tar',
      'notes/before-update/beta-20250102-030406.tar',
      'notes/before-update/beta-20250102-030407.tar',
    ]);
    assert.equal(events.kinds().filter((kind) => kind === 'backup.created').length, 7);
  });

  test('start: a bad update template is CONFIG_INVALID; work files and stale alarms go', async () => {
    const { make, folder, alarms } = await setup();
    const bad = make({ updates: { template: '../x.tar', keep: 1 } });
    await rejects(bad.start(), 'CONFIG_INVALID', 'backup.updateTemplate');
    await mkdir(join(folder, '.work', 'backup-cut-off'), { recursive: true });
    alarms.raise('backup-failed', 'error', 'failed before', 'acme');
    alarms.raise('backup-failed', 'error', 'failed before', 'deleted-meanwhile');
    alarms.raise('backup-failed', 'critical', 'pg_dump does not work', 'pg_dump');
    const service = make();
    await service.start();
    await settle();
    assert.deepEqual(await readdir(folder), [], 'the work folder is emptied');
    assert.deepEqual(
      alarms.active().map((alarm) => alarm.subject),
      ['acme'],
      'the alarm of a deleted instance and the pg_dump one (it works now) are cleared',
    );
    assert.deepEqual(service.dumpCheck(), { version: 'pg_dump (PostgreSQL) 18.0', error: null });
  });

  test('a test restore that fails: BACKUP_UNVERIFIED and its alarm, the archive kept', async () => {
    const { service, folder, instances, alarms, cron } = await setup();
    await rejects(service.create('acme', { verify: true }), 'BACKUP_UNVERIFIED');
    assert.ok(instances.calls.includes('scratch acme'));
    assert.match(alarms.get('backup-unverified', 'acme')?.text ?? '', /no scratch database/);
    assert.equal(alarms.get('backup-failed', 'acme'), undefined, 'the backup itself worked');
    assert.deepEqual(await filesIn(folder), ['notes/acme-20250102-030405.tar']);
    // A scheduled run with verify keeps the archive but prunes nothing with it.
    await service.setSchedule({ cron: '0 * * * *', keep: 1, verify: true });
    await cron.fire();
    assert.equal((await filesIn(folder)).filter((file) => file.includes('acme')).length, 2);
  });

  test('an encrypted archive: listed without its manifest, restored only with its passphrase', async () => {
    const { service, folder, clock, instances } = await setup();
    const { file } = await service.create('acme', { passphrase: 'correct horse' });
    clock.time += 1000;
    await service.create('beta');
    await writeFile(join(folder, 'notes', 'junk.tar'), 'no archive');
    await mkdir(join(folder, '.hidden'), { recursive: true });
    const listed = await service.list();
    assert.deepEqual(listed.map((entry) => [entry.file, entry.encrypted, entry.instance]).sort(), [
      ['notes/acme-20250102-030405.tar', true, null],
      ['notes/beta-20250102-030406.tar', false, 'beta'],
    ]);
    await rejects(service.restore(file, { into: 'acme' }), 'PASSPHRASE_WRONG', 'passphrase');
    assert.ok(!instances.calls.includes('replaceContents acme'));
  });
});

describe('restores (fakes behind the narrow interfaces)', () => {
  test('the target is checked first: one of into or as, a clean name, the same app', async () => {
    const { service, instances, events } = await setup();
    const { file } = await service.create('acme');
    await instances.add('other', 'tasks');
    await rejects(service.restore(file, {}), 'BAD_REQUEST');
    await rejects(service.restore(file, { into: 'acme', as: 'x' }), 'BAD_REQUEST');
    await rejects(service.restore('notes/a\0.tar', { into: 'acme' }), 'BAD_REQUEST', 'archive');
    await rejects(service.restore(file, { into: 'nobody' }), 'INSTANCE_NOT_FOUND', 'into');
    await rejects(service.restore(file, { into: 'other' }), 'BACKUP_APP_MISMATCH', 'into');
    await rejects(service.restore(file, { as: 'beta' }), 'INSTANCE_EXISTS', 'as');
    assert.deepEqual(
      instances.calls.filter((call) => !call.startsWith('repairAccess')),
      [],
      'nothing was replaced or created',
    );
    assert.deepEqual(events.kinds(), ['backup.created']);
  });

  test('into: the dump is replayed as the role and the files land in the new folder', async () => {
    const { service, instances, tools, events } = await setup();
    const { file } = await service.create('acme');
    const view = await service.restore(file, { into: 'acme' });
    assert.equal(view.id, 'acme');
    assert.deepEqual(
      tools.replayed.map((replay) => [replay.role, replay.database]),
      [['i_acme', 'av_restore_x']],
    );
    assert.equal(tools.replayed[0]!.sql, dumpText('i_acme', 2));
    const folder = instances.filled.get('acme')!;
    assert.equal(await readFile(join(folder, 'note.txt'), 'utf8'), 'a note of acme\n');
    assert.deepEqual(events.kinds(), ['backup.created', 'backup.restored']);
  });

  test('as: a new instance of the archive app and domain, filled the same way', async () => {
    const { service, instances, tools, folder } = await setup();
    const { file } = await service.create('acme');
    // An absolute path is taken as it is.
    const view = await service.restore(join(folder, file), { as: 'clone' });
    assert.equal(view.id, 'clone');
    assert.equal(view.app, 'notes');
    assert.ok(instances.calls.includes('create notes clone example.org'));
    assert.equal(tools.replayed.length, 1);
    const filled = instances.filled.get('clone')!;
    assert.equal(await readFile(join(filled, 'note.txt'), 'utf8'), 'a note of acme\n');
    const work = join(folder, '.work');
    const left = await readdir(work).catch(() => []);
    assert.deepEqual(
      left.filter((name) => name.startsWith('restore-')),
      [],
      'work files removed',
    );
    assert.ok((await stat(join(folder, file))).isFile(), 'the archive stays');
  });
});
