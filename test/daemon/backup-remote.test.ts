/**
 * Remote backup targets against real servers on loopback, each in its own process: an S3
 * server (s3rver) and a WebDAV server (webdav-server). Backups stream to them, are listed and
 * restored from them, rolling slots and keep-N apply there, wrong credentials and a server
 * that dies mid-upload give clear codes and leave no object, and the credentials appear in no
 * answer, log or event.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BackupEntry, BackupTarget } from '../../src/api/index.js';
import { credentials, connectAs } from '../helpers/database.js';
import {
  api,
  cli,
  echoWithInstance,
  eventually,
  makeTemp,
  removeTemp,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';
import { startRemoteServer, type RemoteServer } from '../helpers/remote-servers.js';

const keyId = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
const secretKey = `sk-${randomBytes(16).toString('hex')}`;
const davUser = 'backup';
const davPassword = `pw-${randomBytes(16).toString('hex')}`;
const secrets = [secretKey, davPassword];
const s3Env = { REMOTE_KEY_ID: keyId, REMOTE_SECRET: secretKey };
const davEnv = { REMOTE_USER: davUser, REMOTE_PASSWORD: davPassword };

function dataDirOf(daemon: Daemon, id: string): string {
  return join(daemon.data, 'appdata', 'echo', id);
}

/** Runs the CLI against the daemon; answers its result. */
function run(daemon: Daemon, ...args: string[]) {
  return cli([...args, '--data', daemon.data]);
}

/** Runs the CLI with `--json` and expects success. */
async function json<T>(daemon: Daemon, ...args: string[]): Promise<T> {
  const done = await run(daemon, ...args, '--json');
  assert.equal(done.code, 0, `${args.join(' ')}: ${done.stderr}`);
  return JSON.parse(done.stdout) as T;
}

/** Every file under `folder` (relative names), hidden ones too. */
async function filesUnder(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else out.push(`${prefix}${entry.name}`);
    }
  };
  await walk(folder, '');
  return out.sort();
}

describe('remote backup targets', () => {
  const running = withDaemon();
  let work = '';
  const servers: RemoteServer[] = [];
  let s3: RemoteServer;
  let dav: RemoteServer;
  const note = `remote ${randomBytes(4).toString('hex')}\n`;

  const addS3 = async (daemon: Daemon, name: string, port: number, key = keyId) => {
    const file = join(work, `${name}.key`);
    await writeFile(file, `${secretKey}\n`);
    return run(
      daemon,
      'backup',
      'target',
      'add',
      name,
      's3://backups/site/a',
      '--endpoint',
      `http://127.0.0.1:${port}`,
      '--access-key',
      key,
      '--secret-key-file',
      file,
    );
  };
  const addDav = async (daemon: Daemon, name: string, port: number, password = davPassword) => {
    const file = join(work, `${name}.pw`);
    await writeFile(file, `${password}\n`);
    return run(
      daemon,
      'backup',
      'target',
      'add',
      name,
      `http://127.0.0.1:${port}/box`,
      '--user',
      davUser,
      '--password-file',
      file,
    );
  };

  before(async () => {
    const { daemon } = running;
    work = await makeTemp('appvisor-remote-');
    await mkdir(join(work, 's3'));
    await mkdir(join(work, 'dav', 'box'), { recursive: true });
    s3 = await startRemoteServer('s3', join(work, 's3'), s3Env);
    dav = await startRemoteServer('webdav', join(work, 'dav'), davEnv);
    servers.push(s3, dav);
    await echoWithInstance(daemon, 'shop');
    const creds = await credentials(daemon, 'shop');
    const client = await connectAs(creds, creds.user);
    try {
      await client.query('CREATE TABLE notes (id int PRIMARY KEY, text text)');
      await client.query("INSERT INTO notes VALUES (1, 'kept off the box')");
    } finally {
      await client.end();
    }
    await writeFile(join(dataDirOf(daemon, 'shop'), 'note.txt'), note);
    const added = [await addS3(daemon, 'objects', s3.port), await addDav(daemon, 'dav', dav.port)];
    for (const done of added) assert.equal(done.code, 0, done.stderr);
  });

  after(async () => {
    for (const server of servers) await server.kill();
    if (work) await removeTemp(work);
  });

  test('targets are listed without credentials and pass their test', async () => {
    const { daemon } = running;
    const targets = await json<BackupTarget[]>(daemon, 'backup', 'target', 'list');
    const byName = new Map(targets.map((t) => [t.name, t]));
    assert.equal(byName.get('objects')?.kind, 's3');
    assert.equal(byName.get('objects')?.pathStyle, true, 'path-style with an endpoint');
    assert.equal(byName.get('objects')?.credentials, true);
    assert.equal(byName.get('dav')?.kind, 'webdav');
    for (const name of ['objects', 'dav']) {
      const done = await run(daemon, 'backup', 'target', 'test', name);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /works/);
    }
    const again = await addS3(daemon, 'objects', s3.port);
    assert.match(again.stderr, /^error TARGET_EXISTS: /);
    const bad = await run(daemon, 'backup', 'target', 'add', 'x', 'ftp://host/x');
    assert.match(bad.stderr, /^error TARGET_INVALID: /);
    const inUrl = await run(daemon, 'backup', 'target', 'add', 'x', 'https://u:p@host/x');
    assert.match(inUrl.stderr, /^error TARGET_INVALID: /);
    // Nothing was left behind by the probes.
    assert.deepEqual(await filesUnder(join(work, 'dav', 'box')), []);
  });

  for (const target of ['objects', 'dav']) {
    test(`create, list and restore --as through ${target}`, async () => {
      const { daemon } = running;
      const passFile = join(work, 'pass');
      await writeFile(passFile, 'a remote passphrase\n');
      // More than one part of a multipart upload (10 MiB) on S3.
      const bulk = randomBytes(target === 'objects' ? 11 * 1024 * 1024 : 1000);
      await writeFile(join(dataDirOf(daemon, 'shop'), 'bulk.bin'), bulk);
      const plain = await json<BackupEntry>(daemon, 'backup', 'create', 'shop', '--target', target);
      await rm(join(dataDirOf(daemon, 'shop'), 'bulk.bin'));
      assert.equal(plain.target, target);
      assert.match(plain.file, /^echo\/shop-\d{8}-\d{6}(-\d+)?\.tar$/);
      const sealed = await json<BackupEntry>(
        daemon,
        'backup',
        'create',
        'shop',
        '--target',
        target,
        '--template',
        'sealed/#I-#d.tar',
        '--passphrase-file',
        passFile,
      );
      assert.equal(sealed.encrypted, true);
      const listed = await json<BackupEntry[]>(daemon, 'backup', 'list', '--target', target);
      const plainListed = listed.find((e) => e.file === plain.file);
      assert.equal(plainListed?.instance, 'shop');
      assert.equal(plainListed.size, plain.size);
      const sealedListed = listed.find((e) => e.file === sealed.file);
      assert.equal(sealedListed?.encrypted, true);
      assert.equal(sealedListed.instance, null);
      // Nothing of a remote backup stays in the local folder.
      assert.deepEqual(await filesUnder(join(daemon.data, 'backups', 'echo')).catch(() => []), []);

      for (const [entry, extra] of [
        [plain, []],
        [sealed, ['--passphrase-file', passFile]],
      ] as const) {
        const as = `${target}-${entry.encrypted ? 'sealed' : 'plain'}`;
        const done = await run(
          daemon,
          'backup',
          'restore',
          entry.file,
          '--target',
          target,
          '--as',
          as,
          ...extra,
        );
        assert.equal(done.code, 0, done.stderr);
        assert.equal(await readFile(join(dataDirOf(daemon, as), 'note.txt'), 'utf8'), note);
        if (!entry.encrypted) {
          assert.ok((await readFile(join(dataDirOf(daemon, as), 'bulk.bin'))).equals(bulk));
        }
        const creds = await credentials(daemon, as);
        const client = await connectAs(creds, creds.user);
        try {
          const rows = await client.query<{ text: string }>('SELECT text FROM notes');
          assert.deepEqual(rows.rows, [{ text: 'kept off the box' }]);
        } finally {
          await client.end();
        }
        const gone = await api(daemon, 'DELETE', `/instances/${as}`);
        assert.equal(gone.status, 200);
      }
      const missing = await run(
        daemon,
        'backup',
        'restore',
        'echo/nothing.tar',
        '--target',
        target,
        '--as',
        'never',
      );
      assert.match(missing.stderr, /^error BACKUP_NOT_FOUND: /);
    });
  }

  test('rolling slots (#bn) on WebDAV: the oldest slot is replaced', async () => {
    const { daemon } = running;
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      const entry = await json<BackupEntry>(
        daemon,
        'backup',
        'create',
        'shop',
        '--target',
        'dav',
        '--template',
        'slots/#I-#bn.tar',
      );
      made.push(entry.file);
    }
    assert.deepEqual(made, [
      'slots/shop-0.tar',
      'slots/shop-1.tar',
      'slots/shop-2.tar',
      'slots/shop-0.tar',
    ]);
    assert.deepEqual(await filesUnder(join(work, 'dav', 'box', 'slots')), [
      'shop-0.tar',
      'shop-1.tar',
      'shop-2.tar',
    ]);
  });

  test('a scheduled run to S3 applies keep-N there', async () => {
    const { daemon } = running;
    const set = await run(
      daemon,
      'backup',
      'schedule',
      '--cron',
      '* * * * * *',
      '--template',
      'kept/#I-#d.tar',
      '--keep',
      '2',
      '--target',
      'objects',
    );
    assert.equal(set.code, 0, set.stderr);
    const removal = await run(daemon, 'backup', 'target', 'remove', 'objects');
    assert.match(removal.stderr, /^error TARGET_INVALID: /, 'the schedule uses it');
    const made = async () => {
      const answer = await api(daemon, 'GET', '/events?limit=1000');
      const events = (answer.body as { events: { kind: string; text: string }[] }).events;
      return events.filter((e) => e.kind === 'backup.created' && e.text.includes('objects:kept/'))
        .length;
    };
    try {
      await eventually(
        async () => ((await made()) >= 4 ? true : undefined),
        30_000,
        'four scheduled backups',
      );
    } finally {
      const off = await run(daemon, 'backup', 'schedule', '--off', '--target', 'none');
      assert.equal(off.code, 0, off.stderr);
    }
    const kept = await eventually(
      async () => {
        const listed = await json<BackupEntry[]>(daemon, 'backup', 'list', '--target', 'objects');
        const files = listed.filter((e) => e.file.startsWith('kept/'));
        return files.length === 2 ? files : undefined;
      },
      10_000,
      'two archives kept',
    );
    assert.ok(kept.every((e) => e.instance === 'shop'));
  });

  test('wrong credentials answer TARGET_DENIED', async () => {
    const { daemon } = running;
    assert.equal((await addS3(daemon, 'badkey', s3.port, 'AKNOBODY')).code, 0);
    assert.equal((await addDav(daemon, 'badpass', dav.port, 'not the password')).code, 0);
    for (const name of ['badkey', 'badpass']) {
      const probe = await run(daemon, 'backup', 'target', 'test', name);
      assert.match(probe.stderr, /^error TARGET_DENIED: /, probe.stderr);
      const made = await run(daemon, 'backup', 'create', 'shop', '--target', name);
      assert.match(made.stderr, /^error TARGET_DENIED: /, made.stderr);
      const removed = await run(daemon, 'backup', 'target', 'remove', name);
      assert.equal(removed.code, 0, removed.stderr);
    }
    const unknown = await run(daemon, 'backup', 'create', 'shop', '--target', 'nowhere');
    assert.match(unknown.stderr, /^error TARGET_NOT_FOUND: /);
  });

  for (const kind of ['s3', 'webdav'] as const) {
    test(`a ${kind} server that dies mid-upload leaves no object`, async () => {
      const { daemon } = running;
      const folder = join(work, `dying-${kind}`);
      await mkdir(join(folder, 'box'), { recursive: true });
      const env = kind === 's3' ? s3Env : davEnv;
      const dying = await startRemoteServer(kind, folder, {
        ...env,
        REMOTE_DIE_AFTER: String(3 * 1024 * 1024),
      });
      servers.push(dying);
      const name = `dying-${kind}`;
      const added =
        kind === 's3'
          ? await addS3(daemon, name, dying.port)
          : await addDav(daemon, name, dying.port);
      assert.equal(added.code, 0, added.stderr);
      const bulk = join(dataDirOf(daemon, 'shop'), 'bulk.bin');
      await writeFile(bulk, randomBytes(12 * 1024 * 1024));
      try {
        const made = await run(daemon, 'backup', 'create', 'shop', '--target', name);
        assert.equal(made.code, 1);
        assert.match(made.stderr, /^error TARGET_UNREACHABLE: /, made.stderr);
      } finally {
        await rm(bulk, { force: true });
      }
      await dying.kill();
      // The same storage served again: no archive there.
      const again = await startRemoteServer(kind, folder, env);
      servers.push(again);
      const readded = await run(daemon, 'backup', 'target', 'remove', name);
      assert.equal(readded.code, 0, readded.stderr);
      const back =
        kind === 's3'
          ? await addS3(daemon, name, again.port)
          : await addDav(daemon, name, again.port);
      assert.equal(back.code, 0, back.stderr);
      assert.deepEqual(await json<BackupEntry[]>(daemon, 'backup', 'list', '--target', name), []);
      const left = await filesUnder(kind === 's3' ? folder : join(folder, 'box'));
      assert.ok(
        !left.some(
          (file) => file.endsWith('.tar') && !file.includes('/.') && !file.startsWith('.'),
        ),
        left.join(' '),
      );
      assert.deepEqual(await readdir(join(daemon.data, 'backups', '.work')).catch(() => []), []);
      await again.kill();
    });
  }

  test('credentials appear in no answer, log or event', async () => {
    const { daemon } = running;
    const answers = [
      await api(daemon, 'GET', '/backup-targets'),
      await api(daemon, 'GET', '/events?limit=1000'),
      await api(daemon, 'GET', '/status'),
    ];
    const texts = answers.map((answer) => JSON.stringify(answer.body));
    texts.push(daemon.stdout(), daemon.stderr());
    for (const file of await filesUnder(join(daemon.data, 'logs'))) {
      texts.push(await readFile(join(daemon.data, 'logs', file), 'utf8'));
    }
    assert.ok(existsSync(join(daemon.data, 'logs')));
    for (const text of texts) {
      for (const secret of secrets) assert.ok(!text.includes(secret), 'a credential leaked');
    }
  });
});
