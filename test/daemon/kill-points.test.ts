/**
 * The kill-point net: `kill -9` of the manager at a random moment of one of its multi-step
 * operations — app install, app upgrade (a re-install of a new version), app store update,
 * instance create, instance delete, backup create, restore `--into` and restore `--as` — then a
 * restart, and the invariants a user relies on:
 *
 * - the manager starts;
 * - no process of the killed manager outlives the restart, and no app runs twice;
 * - an app is listed iff its folder holds one whole package, and then it runs;
 * - an instance is listed iff its database and role exist, and then it becomes ready; nothing of
 *   an instance that is not listed is left (database, role, folder, row);
 * - every archive listed as a backup unpacks whole, its digests right;
 * - a restore is applied whole or not at all: the database and the folder come from the same
 *   side, and an instance nobody restored keeps its data;
 * - what the client was told worked is there after the restart.
 *
 * Each point prints its seed, kind and kill time. `npm test` runs 12 points at a fixed seed;
 * `APPVISOR_TEST_LONG=1` runs 60; `APPVISOR_TEST_SEED=n` repeats another run's sequence and
 * `APPVISOR_KILL_POINTS=n` sets the count; `APPVISOR_KILL_POINT=<kind>@<ms>` replays one point.
 * Kill times are chosen within how long the same operation took when it was not cut off, so a
 * replay lands in about the same step, not necessarily the same line.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import type { AppStatus, BackupEntry, InstanceView, StoreOperation } from '../../src/api/index.js';
import { unpackArchive } from '../../src/core/backup/index.js';
import { buildStoreFolder, StaticStore, startSignedStore } from '../helpers/app-store.js';
import { tarBytes, type ArchiveEntry } from '../helpers/archives.js';
import { markOf, setMark, storeClient } from '../helpers/database.js';
import {
  cli,
  eventually,
  http,
  killAll,
  makeTemp,
  removeTemp,
  repoRoot,
  startDaemon,
  stopQuietly,
  type Daemon,
} from '../helpers/daemon.js';
import { Random } from '../helpers/fuzz.js';
import { descendantsIn, isRunning, processTable } from '../helpers/proc.js';

const long = process.env.APPVISOR_TEST_LONG === '1';
const seed = Number(process.env.APPVISOR_TEST_SEED ?? 20261203);
const replay = /^([a-z-]+)@(\d+)$/.exec(process.env.APPVISOR_KILL_POINT ?? '');
const count = replay ? 1 : Number(process.env.APPVISOR_KILL_POINTS ?? (long ? 60 : 12));
const api = '/manager/api/v1';

const kinds = [
  'install',
  'upgrade',
  'store-update',
  'create',
  'delete',
  'backup',
  'restore-into',
  'restore-as',
] as const;
type Kind = (typeof kinds)[number];

/** The answer of the cut-off request: status 0 when the connection broke first. */
interface Answer {
  status: number;
  body: unknown;
}

/** A package: its files by path inside the app folder, and the tar.gz to upload. */
interface Package {
  files: Map<string, string>;
  bytes: Buffer;
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The files of a folder (recursively) by relative path, as sha256 digests. */
async function treeOf(folder: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.set(relative(folder, path), sha(await readFile(path)));
    }
  };
  await walk(folder);
  return files;
}

const sameTree = (a: Map<string, string>, b: Map<string, string>) =>
  a.size === b.size && [...a].every(([path, digest]) => b.get(path) === digest);

/** examples/echo as version `1.0.<n>`, build n. */
async function echoPackage(n: number): Promise<Package> {
  const source = join(repoRoot, 'examples', 'echo');
  const manifest = JSON.parse(await readFile(join(source, 'app.json'), 'utf8')) as object;
  const contents: Record<string, string> = {
    'app.json': JSON.stringify({ ...manifest, version: `1.0.${n}`, build: n }),
    'main.mjs': await readFile(join(source, 'main.mjs'), 'utf8'),
    run: await readFile(join(source, 'run'), 'utf8'),
  };
  return pack('echo', contents);
}

/** A small app without instances that idles until it is stopped. */
/**
 * The id of the app the install points install: its own per run, so that the system users of
 * two runs on one machine (two CI clones) are told apart.
 */
const spareId = `spare${randomBytes(3).toString('hex')}`;

function sparePackage(): Package {
  return pack(spareId, {
    'app.json': JSON.stringify({ version: '1.0.0' }),
    run: "#!/bin/sh\ntrap 'exit 0' TERM\nwhile true; do sleep 0.2 & wait $!; done\n",
  });
}

function pack(id: string, contents: Record<string, string>): Package {
  const entries: ArchiveEntry[] = [{ name: `${id}/`, type: 'dir' }];
  const files = new Map<string, string>();
  for (const [name, content] of Object.entries(contents)) {
    entries.push({ name: `${id}/${name}`, content, mode: name === 'run' ? 0o755 : 0o644 });
    files.set(name, sha(content));
  }
  return { files, bytes: gzipSync(tarBytes(entries)) };
}

/** A request over manager.sock that answers status 0 when the manager dies under it. */
function request(daemon: Daemon, method: string, path: string, body?: unknown): Promise<Answer> {
  return http(method, { socket: daemon.socket }, `${api}${path}`, { body }).then(
    (answer) => ({ status: answer.status, body: answer.body }),
    () => ({ status: 0, body: undefined }),
  );
}

/** POST /apps with a package. */
function upload(daemon: Daemon, bytes: Buffer, query: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        socketPath: daemon.socket,
        path: `${api}/apps?${query}`,
        method: 'POST',
        headers: { 'content-type': 'application/gzip', 'content-length': bytes.length },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
        response.on('error', () => {
          resolve({ status: 0, body: undefined });
        });
      },
    );
    req.once('error', () => {
      resolve({ status: 0, body: undefined });
    });
    req.end(bytes);
  });
}

const ok = (answer: Answer) => answer.status >= 200 && answer.status < 300;

function expectOk(answer: Answer, what: string): unknown {
  if (!ok(answer)) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function listOf<T>(daemon: Daemon, path: string, key: string): Promise<T[]> {
  const answer = await request(daemon, 'GET', path);
  return (expectOk(answer, `GET ${path}`) as Record<string, T[]>)[key]!;
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

/** What one point did, for the checks after the restart. */
interface Point {
  kind: Kind;
  /** The instance or app it concerned. */
  subject: string;
  answer: Answer;
  /** restore: the mark of the backup, and the mark the live instance had after it. */
  backedUp?: string;
  changed?: string;
  /** upgrade and store update: the package before and the one asked for. */
  from?: Package;
  to?: Package;
}

describe('kill -9 of the manager at random points of its multi-step operations', () => {
  let data: string;
  let work: string;
  let storeDir: string;
  let storeKey: string;
  let server: StaticStore;
  let daemon: Daemon | undefined;
  /** Databases and roles the platform has before any instance. */
  let baseDatabases: string[];
  let baseRoles: string[];
  const random = new Random(seed);
  /** How long each kind took when it ran to its end (ms): kill times are drawn below it. */
  const took = new Map<Kind, number>();
  /** The echo package installed now, and the number of the next one. */
  let echo: Package;
  let build = 1;
  const spare = sparePackage();
  /** Instances made by points (create, restore --as), besides the fixed k1 and k2. */
  let serial = 0;
  let changedMark = 'k1 first';
  /** Users that look like spare's but were there before (another run's). */
  let otherSpareUsers: string[] = [];
  const spareUsers = async () =>
    (await readFile('/etc/passwd', 'utf8'))
      .split('\n')
      .map((line) => line.split(':')[0]!)
      .filter((name) => name.startsWith(`av-${spareId}`));

  const args = [
    '--set',
    'apps.stopGraceSeconds=2',
    '--set',
    'appstore.updateTimeoutSeconds=30',
    '--set',
    'appstore.checkHours=0',
  ];
  const live = () => {
    if (!daemon) throw new Error('no daemon');
    return daemon;
  };

  before(async () => {
    data = await makeTemp();
    work = await makeTemp();
    otherSpareUsers = await spareUsers();
    const store = await startSignedStore(work);
    ({ folder: storeDir, key: storeKey, server } = store);
    daemon = await startDaemon({ data, args });
    const added = await cli([
      'store',
      'add',
      'main',
      server.url(),
      '--key',
      store.publicKey,
      '--data',
      data,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const client = await storeClient(daemon, 'postgres');
    try {
      baseDatabases = (
        await client.query<{ n: string }>('SELECT datname AS n FROM pg_database')
      ).rows.map((row) => row.n);
      baseRoles = (await client.query<{ n: string }>('SELECT rolname AS n FROM pg_roles')).rows.map(
        (row) => row.n,
      );
    } finally {
      await client.end();
    }
    echo = await echoPackage(build++);
    expectOk(await upload(daemon, echo.bytes, 'autostart=true'), 'install echo');
    await appRunning(daemon, 'echo');
    for (const id of ['k1', 'k2']) {
      expectOk(await request(daemon, 'POST', '/instances', { app: 'echo', id }), `create ${id}`);
      await instanceReady(daemon, id);
      await setMark(daemon, id, `${id} first`);
    }
  });

  after(async () => {
    await stopQuietly(daemon);
    await killAll(data);
    await server.close();
    await removeTemp(data);
    await removeTemp(work);
  });

  async function appRunning(d: Daemon, id: string): Promise<AppStatus> {
    return eventually(
      async () => {
        const status = (await request(d, 'GET', `/apps/${id}`)).body as AppStatus;
        return status.state === 'running' ? status : undefined;
      },
      60_000,
      `${id} running`,
    );
  }

  async function instanceReady(d: Daemon, id: string): Promise<void> {
    await eventually(
      async () => {
        const view = (await request(d, 'GET', `/instances/${id}`)).body as InstanceView;
        return view.state === 'ready' || undefined;
      },
      60_000,
      `${id} ready`,
    );
  }

  /** Instances a point made that are listed now. */
  async function madeInstances(d: Daemon): Promise<string[]> {
    return (await listOf<InstanceView>(d, '/instances', 'instances'))
      .map((view) => view.id)
      .filter((id) => id !== 'k1' && id !== 'k2');
  }

  /** Gets the platform ready for a point of `kind`, then starts it (not awaited). */
  async function begin(
    kind: Kind,
  ): Promise<{ point: Omit<Point, 'answer'>; run: () => Promise<Answer> }> {
    const d = live();
    // No more than a few made instances: every update backs each one up.
    const made = await madeInstances(d);
    for (const id of made.slice(kind === 'delete' ? 1 : 0, made.length - 1)) {
      expectOk(await request(d, 'DELETE', `/instances/${id}`), `delete ${id}`);
    }
    switch (kind) {
      case 'install': {
        if ((await request(d, 'GET', `/apps/${spareId}`)).status === 200) {
          expectOk(await request(d, 'DELETE', `/apps/${spareId}`), 'uninstall spare');
        }
        return {
          point: { kind, subject: spareId },
          run: () => upload(d, spare.bytes, 'autostart=true'),
        };
      }
      case 'upgrade': {
        const to = await echoPackage(build++);
        return {
          point: { kind, subject: 'echo', from: echo, to },
          run: () => upload(d, to.bytes, ''),
        };
      }
      case 'store-update': {
        const to = await echoPackage(build++);
        await writeFile(join(storeDir, `echo-${build - 1}.tar.gz`), to.bytes);
        await buildStoreFolder(storeDir, storeKey);
        return {
          point: { kind, subject: 'echo', from: echo, to },
          run: () => request(d, 'POST', '/store/apps/echo/update', { switchStore: true }),
        };
      }
      case 'create': {
        const id = `c${++serial}`;
        return {
          point: { kind, subject: id },
          run: () => request(d, 'POST', '/instances', { app: 'echo', id }),
        };
      }
      case 'delete': {
        let id = (await madeInstances(d))[0];
        if (id === undefined) {
          id = `c${++serial}`;
          expectOk(await request(d, 'POST', '/instances', { app: 'echo', id }), `create ${id}`);
          await instanceReady(d, id);
        }
        const target = id;
        return {
          point: { kind, subject: target },
          run: () => request(d, 'DELETE', `/instances/${target}`),
        };
      }
      case 'backup':
        return {
          point: { kind, subject: 'k1' },
          run: () => request(d, 'POST', '/backups', { instance: 'k1' }),
        };
      case 'restore-into':
      case 'restore-as': {
        const backedUp = `backed ${serial}-${random.below(1e6)}`;
        await setMark(d, 'k1', backedUp);
        const made = expectOk(
          await request(d, 'POST', '/backups', { instance: 'k1' }),
          'backup k1',
        ) as BackupEntry;
        changedMark = `changed ${serial}-${random.below(1e6)}`;
        await setMark(d, 'k1', changedMark);
        const target = kind === 'restore-into' ? 'k1' : `r${++serial}`;
        const body =
          kind === 'restore-into'
            ? { archive: made.file, into: 'k1' }
            : { archive: made.file, as: target };
        return {
          point: { kind, subject: target, backedUp, changed: changedMark },
          run: () => request(d, 'POST', '/backups/restore', body),
        };
      }
    }
  }

  /** The checks after a restart (and after an operation that was not cut off). */
  async function check(d: Daemon, point: Point): Promise<void> {
    const { kind, subject, answer } = point;
    // An update the restart resumes is finished (or rolled back) first.
    await eventually(
      async () => {
        const ops = await listOf<StoreOperation>(d, '/store/operations', 'operations');
        return ops.every((op) => op.finishedAt !== null) || undefined;
      },
      120_000,
      'the store operations to finish',
    );

    // Apps: listed iff the folder holds a whole package; listed apps run.
    const apps = await listOf<AppStatus>(d, '/apps', 'apps');
    const appsDir = join(d.data, 'apps');
    const folders = await readdir(appsDir);
    assert.deepEqual(
      folders.filter((name) => name.startsWith('.')),
      [],
      'no staging or swap folder is left in apps/',
    );
    assert.deepEqual(
      folders.sort(),
      apps.map((app) => app.id).sort(),
      'an app is listed iff it has a folder',
    );
    for (const app of apps) {
      const tree = await treeOf(join(appsDir, app.id));
      if (app.id === spareId) {
        assert.ok(sameTree(tree, spare.files), 'spare has its whole package');
      } else {
        const candidates = [echo, point.to].filter((p): p is Package => p !== undefined);
        const found = candidates.find((p) => sameTree(tree, p.files));
        assert.ok(found, 'echo has one whole package, the previous or the new one');
        echo = found;
      }
      await appRunning(d, app.id);
    }
    if (!apps.some((app) => app.id === spareId)) {
      assert.equal(
        await exists(join(d.data, 'appdata', spareId)),
        false,
        'no data folder of spare is left',
      );
    }
    if (process.getuid?.() === 0) {
      const owner = await storeClient(d);
      let rows: { unix_user: string }[];
      try {
        rows = (
          await owner.query<{ unix_user: string }>('SELECT unix_user FROM apps WHERE id = $1', [
            spareId,
          ])
        ).rows;
      } finally {
        await owner.end();
      }
      assert.deepEqual(
        (await spareUsers()).filter((name) => !otherSpareUsers.includes(name)),
        rows.map((row) => row.unix_user),
        'the system users made for spare are the one its row names, if it is listed',
      );
    }
    if (kind === 'install' && ok(answer)) {
      assert.ok(
        apps.some((app) => app.id === spareId),
        'an install that answered 201 stays',
      );
    }
    if ((kind === 'upgrade' || kind === 'store-update') && ok(answer)) {
      const changed = (answer.body as { changed?: boolean }).changed;
      if (kind === 'upgrade' || changed === true) {
        assert.equal(echo, point.to, 'an update that answered success stays');
      }
    }
    const echoStatus = await appRunning(d, 'echo');
    const manifest = JSON.parse(await readFile(join(appsDir, 'echo', 'app.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(echoStatus.version, manifest.version, 'status shows the installed version');

    // No app runs twice: one process runs each app's folder, and as root every process of an
    // app's user is in the group of the process the manager supervises.
    const table = await processTable();
    for (const app of apps) {
      const status = await appRunning(d, app.id);
      const runners = table.filter((entry) =>
        entry.argv.some((part) => part.startsWith(join(appsDir, app.id) + '/')),
      );
      assert.deepEqual(
        runners.map((entry) => entry.pid),
        [status.pid],
        `one process runs ${app.id}: ${runners.map((e) => e.argv.join(' ')).join(' | ')}`,
      );
      const owner = (await lstat(join(d.data, 'appdata', app.id))).uid;
      if (owner !== 0) {
        const strays = table.filter((entry) => entry.uid === owner && entry.pgrp !== status.pid);
        assert.deepEqual(
          strays.map((entry) => `${entry.pid} ${entry.argv.join(' ')}`),
          [],
          `every process of ${app.id}'s user belongs to its supervised process`,
        );
      }
    }

    // Instances: listed iff their database and role exist; listed ones get ready.
    const views = await listOf<InstanceView>(d, '/instances', 'instances');
    const store = await storeClient(d, 'postgres');
    let databases: string[];
    let roles: string[];
    try {
      databases = (await store.query<{ n: string }>('SELECT datname AS n FROM pg_database')).rows
        .map((row) => row.n)
        .filter((name) => !baseDatabases.includes(name));
      roles = (await store.query<{ n: string }>('SELECT rolname AS n FROM pg_roles')).rows
        .map((row) => row.n)
        .filter((name) => !baseRoles.includes(name));
    } finally {
      await store.end();
    }
    const catalog = await storeClient(d);
    let rows: { id: string; provisioning: string }[];
    try {
      rows = (
        await catalog.query<{ id: string; provisioning: string }>(
          'SELECT id, provisioning FROM instances',
        )
      ).rows;
    } finally {
      await catalog.end();
    }
    const expected = views.map((view) => view.database).sort();
    assert.deepEqual(databases.sort(), expected, 'a database exists iff its instance is listed');
    // Each instance has its role (i_…) and the manager's role for its database (m_…).
    assert.deepEqual(
      roles.sort(),
      expected.flatMap((name) => [name, `m_${name.slice(2)}`]).sort(),
      'the roles exist iff their instance is listed',
    );
    assert.deepEqual(
      rows.map((row) => `${row.id} ${row.provisioning}`).sort(),
      views.map((view) => `${view.id} ready`).sort(),
      'no row of a half-made or half-deleted instance is left',
    );
    for (const view of views) await instanceReady(d, view.id);
    for (const id of [...Array(serial).keys()].flatMap((n) => [`c${n + 1}`, `r${n + 1}`])) {
      if (views.some((view) => view.id === id)) continue;
      assert.equal(
        await exists(join(d.data, 'appdata', 'echo', id)),
        false,
        `no folder of the instance ${id}, which is not listed, is left`,
      );
    }
    assert.deepEqual(
      await readdir(join(d.data, 'appdata', 'echo', '.restores')).catch(() => []),
      [],
      'no restore leftovers',
    );
    const listed = (id: string) => views.some((view) => view.id === id);
    if (kind === 'create' && ok(answer))
      assert.ok(listed(subject), 'a create that answered 201 stays');
    if (kind === 'delete' && ok(answer))
      assert.ok(!listed(subject), 'a delete that answered stays');

    // The instances nobody restored keep their data; a restore is whole or absent.
    assert.deepEqual(await markOf(d, 'k2'), { database: 'k2 first', folder: 'k2 first' });
    const k1 = await markOf(d, 'k1');
    assert.equal(
      k1.database,
      k1.folder,
      `k1's database and folder come from one side: ${JSON.stringify(k1)}`,
    );
    if (kind === 'restore-into') {
      assert.ok(
        k1.database === point.backedUp || k1.database === point.changed,
        `k1 holds the backup or its data before the restore: ${JSON.stringify(k1)}`,
      );
      if (ok(answer)) assert.equal(k1.database, point.backedUp, 'a restore that answered stays');
    } else {
      assert.equal(k1.database, changedMark, 'k1 keeps its data');
    }
    changedMark = k1.database;
    if (kind === 'restore-as') {
      if (listed(subject)) {
        assert.deepEqual(await markOf(d, subject), {
          database: point.backedUp,
          folder: point.backedUp,
        });
      } else {
        assert.ok(!ok(answer), 'a restore --as that answered stays');
      }
    }

    // Every archive listed as a backup is whole.
    const backups = await listOf<BackupEntry>(d, '/backups', 'backups');
    const scratch = await mkdtemp(join(work, 'unpack-'));
    try {
      for (const entry of backups) {
        const folder = await mkdtemp(join(scratch, 'a-'));
        await unpackArchive(join(d.data, 'backups', entry.file), folder);
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    if (kind === 'backup' && ok(answer)) {
      const file = (answer.body as BackupEntry).file;
      assert.ok(
        backups.some((entry) => entry.file === file),
        'a backup that answered is listed',
      );
    }
    assert.deepEqual(
      await readdir(join(d.data, 'backups', '.work')).catch(() => []),
      [],
      'no half-written archive is left',
    );
  }

  /** Runs one point: begins the operation, kills the manager after `delay` ms, restarts. */
  async function killPoint(kind: Kind, delay: number): Promise<Point> {
    const d = live();
    const { point, run } = await begin(kind);
    const pending = run();
    await sleep(delay);
    // What the manager started is looked up just before the kill: none of it may outlive the
    // restart (a process that starts between the two is missed).
    const children = descendantsIn(await processTable(), d.child.pid!);
    d.child.kill('SIGKILL');
    await d.exited;
    const answer = await pending;
    daemon = undefined;
    daemon = await startDaemon({ data, args });
    const full: Point = { ...point, answer };
    await check(daemon, full);
    const left: string[] = [];
    for (const pid of children) if (await isRunning(pid)) left.push(String(pid));
    assert.deepEqual(left, [], 'no process of the killed manager outlives the restart');
    return full;
  }

  /** Runs a kind to its end, to learn how long it takes. */
  async function calibrate(kind: Kind): Promise<void> {
    const { point, run } = await begin(kind);
    const started = Date.now();
    const answer = await run();
    took.set(kind, Date.now() - started);
    expectOk(answer, `${kind} (not cut off)`);
    await check(live(), { ...point, answer });
  }

  test(`seed ${seed}: ${count} kill points, and the invariants after each restart`, async (t) => {
    t.diagnostic(
      `seed ${seed}, ${count} points (APPVISOR_TEST_SEED, APPVISOR_KILL_POINTS, APPVISOR_TEST_LONG=1, APPVISOR_KILL_POINT=<kind>@<ms>)`,
    );
    let order: Kind[] = [];
    for (let n = 1; n <= count; n++) {
      if (order.length === 0) {
        order = [...kinds];
        for (let i = order.length - 1; i > 0; i--) {
          const j = random.below(i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
      }
      const drawn = order.shift()!;
      const kind = replay ? (replay[1] as Kind) : drawn;
      assert.ok(kinds.includes(kind), `a kind of point: ${kinds.join(', ')}`);
      if (!took.has(kind)) await calibrate(kind);
      const delay = replay ? Number(replay[2]) : random.below(took.get(kind)! + 1);
      const label = `point ${n}/${count} (seed ${seed}): ${kind}, killed after ${delay} ms of ${took.get(kind)} ms; replay with APPVISOR_KILL_POINT=${kind}@${delay}`;
      t.diagnostic(label);
      try {
        const point = await killPoint(kind, delay);
        t.diagnostic(`  ${point.subject}: the request answered ${point.answer.status}`);
      } catch (error) {
        (error as Error).message = `${label}\n${(error as Error).message}`;
        throw error;
      }
    }
  });
});
