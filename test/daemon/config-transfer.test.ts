/**
 * `config export` and `config import` with two real platforms: one set up by hand (settings,
 * a signed store, an app from it, instances, a schedule, a certificate, an S3 and a WebDAV
 * backup target on real servers), exported with its secrets, and a fresh one that imports the
 * file and ends up the same, its targets working with the credentials from the file. Then what users get
 * wrong: a wrong passphrase, broken JSON, an unknown key, a file that does not fit, and a
 * step that fails part-way, which must leave the platform as it was.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type {
  AppList,
  BackupSchedule,
  BackupTargetList,
  CertificateStatus,
  InstanceList,
  PlatformSettings,
  StoreSourceList,
} from '../../src/api/index.js';
import {
  buildStoreFolder,
  makeStorePackage,
  startSignedStore,
  type StaticStore,
} from '../helpers/app-store.js';
import { makeEcCertificate } from '../helpers/certificates.js';
import {
  cli,
  http,
  killAll,
  makeTemp,
  passwordOf,
  removeTemp,
  repoRoot,
  startDaemon,
  stopQuietly,
  waitForApp,
  waitForInstance,
  type Daemon,
} from '../helpers/daemon.js';
import { startRemoteServer, type RemoteServer } from '../helpers/remote-servers.js';

/** The app's id is its own per run: its system user is not another run's. */
const appId = `cfg${randomBytes(3).toString('hex')}`;

/** The remote servers' credentials: none may be in a file in the clear. */
const keyId = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
const secretKey = `sk-${randomBytes(16).toString('hex')}`;
const davPassword = `pw-${randomBytes(16).toString('hex')}`;
const credentialTexts = [keyId, secretKey, davPassword];

/** What `status`-like reads of a platform show, for comparing two platforms. */
interface Snapshot {
  settings: Omit<PlatformSettings, 'defaults'>;
  stores: StoreSourceList['sources'];
  apps: { id: string; version: string | null; autostart: boolean }[];
  instances: {
    id: string;
    app: string;
    domain: string;
    path: string;
    enabled: boolean;
    excludeFromBackup: boolean;
    traceFlags: string[];
  }[];
  schedule: Omit<BackupSchedule, 'nextRun'>;
  targets: Omit<BackupTargetList['targets'][number], 'createdAt'>[];
  certificate: string;
}

async function get<T>(daemon: Daemon, path: string): Promise<T> {
  const answer = await http('GET', { socket: daemon.socket }, `/manager/api/v1${path}`);
  assert.equal(answer.status, 200, `GET ${path}: ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

async function snapshot(daemon: Daemon): Promise<Snapshot> {
  const { label, dnsName, alarmUrl, alarmEmail } = await get<PlatformSettings>(daemon, '/settings');
  const { cron, template, slots, keep, verify, target } = await get<BackupSchedule>(
    daemon,
    '/backups/schedule',
  );
  return {
    settings: { label, dnsName, alarmUrl, alarmEmail },
    stores: (await get<StoreSourceList>(daemon, '/store/sources')).sources,
    apps: (await get<AppList>(daemon, '/apps')).apps.map(({ id, version, autostart }) => ({
      id,
      version,
      autostart,
    })),
    instances: (await get<InstanceList>(daemon, '/instances')).instances.map((view) => ({
      id: view.id,
      app: view.app,
      domain: view.domain,
      path: view.path,
      enabled: view.enabled,
      excludeFromBackup: view.excludeFromBackup,
      traceFlags: [...view.traceFlags].sort(),
    })),
    schedule: { cron, template, slots, keep, verify, target },
    targets: (await get<BackupTargetList>(daemon, '/backup-targets')).targets.map(
      ({ createdAt: _made, ...target }) => target,
    ),
    certificate: (await get<CertificateStatus>(daemon, '/cert')).fingerprint256,
  };
}

describe('config export and import', () => {
  let work = '';
  let dataA = '';
  let dataB = '';
  let server: StaticStore | undefined;
  const remotes: RemoteServer[] = [];
  let davUrl = '';
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  let exported = '';
  let before_: Snapshot;
  const passphraseFile = () => join(work, 'passphrase');
  const passwords = new Map<string, string>();

  const run = async (daemon: Daemon, ...args: string[]) => cli([...args, '--data', daemon.data]);
  const ok = async (daemon: Daemon, ...args: string[]) => {
    const result = await run(daemon, ...args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    work = await makeTemp();
    dataA = await makeTemp();
    dataB = await makeTemp();
    await writeFile(passphraseFile(), 'correct horse battery\n');
    const store = await startSignedStore(work);
    server = store.server;
    const source = join(repoRoot, 'examples', 'echo');
    const manifest = JSON.parse(await readFile(join(source, 'app.json'), 'utf8')) as object;
    await makeStorePackage(
      join(store.folder, `${appId}.tar.gz`),
      appId,
      {
        ...manifest,
        version: '1.0.3',
        build: 3,
      },
      {
        script: await readFile(join(source, 'run'), 'utf8'),
        files: [{ name: 'main.mjs', content: await readFile(join(source, 'main.mjs'), 'utf8') }],
      },
    );
    await buildStoreFolder(store.folder, store.key);

    a = await startDaemon({ data: dataA });
    await ok(a, 'store', 'add', 'main', server.url(), '--key', store.publicKey);
    await ok(a, 'store', 'install', appId, '--autostart');
    await waitForApp(a, appId);
    await ok(a, 'app', 'configure', appId, '--log-files', '3', '--pids', '200');
    await ok(a, 'settings', 'set', '--label', 'Lab one', '--dns-name', 'apps.example.com');
    await ok(a, 'instance', 'create', appId, 'acme', '--domain', 'example.com');
    await ok(a, 'instance', 'create', appId, 'beta', '--domain', 'example.net', '--path', '/b');
    await waitForInstance(a, 'acme');
    await waitForInstance(a, 'beta');
    await ok(a, 'instance', 'trace', 'acme', '+database');
    await ok(a, 'instance', 'set', 'beta', '--enabled', 'off', '--exclude-from-backup', 'on');
    await ok(a, 'backup', 'schedule', '--cron', '15 3 * * *', '--keep', '4');
    const certificate = await makeEcCertificate();
    await writeFile(join(work, 'cert.pem'), certificate.cert);
    await writeFile(join(work, 'key.pem'), certificate.key);
    await ok(a, 'cert', 'set', join(work, 'cert.pem'), join(work, 'key.pem'));
    for (const id of ['acme', 'beta']) passwords.set(id, await passwordOf(a, id));
    await mkdir(join(work, 's3'));
    await mkdir(join(work, 'dav', 'box'), { recursive: true });
    const s3 = await startRemoteServer('s3', join(work, 's3'), {
      REMOTE_KEY_ID: keyId,
      REMOTE_SECRET: secretKey,
    });
    remotes.push(s3);
    const dav = await startRemoteServer('webdav', join(work, 'dav'), {
      REMOTE_USER: 'backup',
      REMOTE_PASSWORD: davPassword,
    });
    remotes.push(dav);
    davUrl = `http://127.0.0.1:${dav.port}/box`;
    await writeFile(join(work, 'secret-key'), `${secretKey}\n`);
    await writeFile(join(work, 'dav-password'), `${davPassword}\n`);
    await ok(
      a,
      'backup',
      'target',
      'add',
      'offsite',
      's3://backups/lab',
      '--endpoint',
      `http://127.0.0.1:${s3.port}`,
      '--access-key',
      keyId,
      '--secret-key-file',
      join(work, 'secret-key'),
    );
    await ok(
      a,
      'backup',
      'target',
      'add',
      'dav',
      davUrl,
      '--user',
      'backup',
      '--password-file',
      join(work, 'dav-password'),
    );
    await ok(a, 'backup', 'schedule', '--target', 'dav');
    before_ = await snapshot(a);
  });

  after(async () => {
    await stopQuietly(a);
    await stopQuietly(b);
    await killAll(dataA);
    await killAll(dataB);
    await server?.close();
    for (const remote of remotes) await remote.kill();
    for (const folder of [dataA, dataB, work]) await removeTemp(folder);
  });

  test('export writes a 0600 file with no secret in the clear', async () => {
    exported = join(work, 'platform.json');
    const out = await ok(
      a!,
      'config',
      'export',
      exported,
      '--include-secrets',
      '--passphrase-file',
      passphraseFile(),
    );
    assert.match(out, /1 apps, 2 instances, 1 stores, 2 backup targets, secrets encrypted/);
    assert.equal((await stat(exported)).mode & 0o777, 0o600);
    const text = await readFile(exported, 'utf8');
    const document = JSON.parse(text) as {
      kind: string;
      format: number;
      apps: { id: string; store: string; build: number }[];
    };
    assert.equal(document.kind, 'appvisor-config');
    assert.equal(document.format, 1);
    assert.deepEqual(
      document.apps.map(({ id, store, build }) => ({ id, store, build })),
      [{ id: appId, store: 'main', build: 3 }],
    );
    for (const password of passwords.values()) assert.ok(!text.includes(password));
    assert.ok(!text.includes('PRIVATE KEY'));
    for (const secret of credentialTexts) assert.ok(!text.includes(secret), 'a target credential');
    assert.match(text, /"backupTargets": \[\n\s+\{\n\s+"name": "dav",\n\s+"url": "http:\/\/127/);

    const plain = join(work, 'plain.json');
    await ok(a!, 'config', 'export', plain);
    const plainText = await readFile(plain, 'utf8');
    assert.ok(!plainText.includes('"secrets"'));
    for (const secret of credentialTexts) assert.ok(!plainText.includes(secret));

    const refused = await run(a!, 'config', 'export', join(work, 'x.json'), '--include-secrets');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error PASSPHRASE_WRONG/);
  });

  test('a fresh platform imports it: a dry run first, then the same platform', async () => {
    await stopQuietly(a);
    a = undefined;
    b = await startDaemon({ data: dataB });
    const empty = await snapshot(b);

    const dry = await ok(
      b,
      'config',
      'import',
      exported,
      '--dry-run',
      '--passphrase-file',
      passphraseFile(),
    );
    assert.match(dry, /~ platform dnsName: "" -> "apps.example.com"/);
    assert.match(dry, new RegExp(`\\+ app ${appId} 1\\.0\\.3 \\(build 3\\) from the store main`));
    assert.match(dry, /\+ instance beta of .* at example\.net\/b, disabled/);
    assert.ok(dry.includes(`+ backup target dav: ${davUrl}\n`), dry);
    assert.match(dry, /\+ backup target offsite: s3:\/\/backups\/lab\n/);
    assert.match(dry, /~ backup schedule target: null -> "dav"/);
    for (const secret of credentialTexts) assert.ok(!dry.includes(secret));
    assert.match(dry, /dry run: nothing was changed/);
    assert.deepEqual(await snapshot(b), empty, 'a dry run changes nothing');

    const wrong = join(work, 'wrong');
    await writeFile(wrong, 'not the passphrase\n');
    const refused = await run(b, 'config', 'import', exported, '--passphrase-file', wrong);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error PASSPHRASE_WRONG/);

    const applied = await ok(
      b,
      'config',
      'import',
      exported,
      '--passphrase-file',
      passphraseFile(),
    );
    assert.match(applied, /imported: \d+ changes/);
    await waitForApp(b, appId);
    await waitForInstance(b, 'acme');
    assert.deepEqual(await snapshot(b), before_);
    for (const [id, password] of passwords) assert.equal(await passwordOf(b, id), password);
    // The credentials came from the sealed block: both targets work against the real servers.
    for (const name of ['offsite', 'dav']) {
      assert.match(await ok(b, 'backup', 'target', 'test', name), /works/);
    }

    const again = await ok(b, 'config', 'import', exported, '--passphrase-file', passphraseFile());
    assert.match(again, /nothing to change/);
  });

  test('bad files are refused naming the line and key, and change nothing', async () => {
    const text = await readFile(exported, 'utf8');
    const cases: { name: string; file: string; code: string; message: RegExp }[] = [
      {
        name: 'not JSON',
        file: text.replace('"format": 1,', '"format": 1,,'),
        code: 'IMPORT_INVALID',
        message: /not JSON \(line 3\)/,
      },
      {
        name: 'an unknown key',
        file: text.replace('"dnsName"', '"dnsname"'),
        code: 'IMPORT_INVALID',
        message: /platform\.dnsname \(line \d+\): unknown key "dnsname"/,
      },
      {
        name: 'a bad path',
        file: text.replace('"path": "/b"', '"path": "/manager/b"'),
        code: 'IMPORT_INVALID',
        message: /instances\[1\]\.path \(line \d+\): .*under \/manager/,
      },
      {
        name: 'an instance of another app',
        file: text.replace(
          /"app": "cfg[0-9a-f]+",\n(\s+)"domain": "example\.com"/,
          '"app": "other",\n$1"domain": "example.com"',
        ),
        code: 'IMPORT_CONFLICT',
        message: /instances\[0\]\.app \(line \d+\): no app "other"/,
      },
      {
        name: 'another kind of file',
        file: text.replace('"appvisor-config"', '"something-else"'),
        code: 'IMPORT_INVALID',
        message: /kind \(line 2\): this is not an appvisor configuration file/,
      },
      {
        name: 'a backup target of another kind',
        file: text.replace(`"url": "${davUrl}"`, '"url": "ftp://127.0.0.1/box"'),
        code: 'IMPORT_INVALID',
        message: /backupTargets\[0\]\.url \(line \d+\): url is an http:\/\/ or https:\/\/ URL/,
      },
      {
        name: 'a schedule sending to a target nobody has',
        file: text.replace(/("keep": 4,\n\s+"verify": false,\n\s+"target": )"dav"/, '$1"gone"'),
        code: 'IMPORT_CONFLICT',
        message:
          /backupSchedule\.target \(line \d+\): .*"gone", which neither the file nor this platform has/,
      },
      {
        name: 'a backup target named twice',
        file: text.replace('"name": "offsite"', '"name": "dav"'),
        code: 'IMPORT_INVALID',
        message:
          /backupTargets\[1\]\.name \(line \d+\): a backup target of this name is listed twice/,
      },
    ];
    const before = await snapshot(b!);
    for (const item of cases) {
      assert.notEqual(item.file, text, `${item.name}: the edit applies`);
      const path = join(work, 'bad.json');
      await writeFile(path, item.file);
      const result = await run(b!, 'config', 'import', path, '--passphrase-file', passphraseFile());
      assert.equal(result.code, 1, item.name);
      assert.match(result.stderr, new RegExp(`error ${item.code}`), item.name);
      assert.match(result.stderr, item.message, item.name);
    }
    assert.deepEqual(await snapshot(b!), before);
  });

  test('a file without secrets keeps the credentials of a same-URL target; a new one has none', async () => {
    const plain = await readFile(join(work, 'plain.json'), 'utf8');
    const path = join(work, 'plain-edited.json');
    await writeFile(path, plain);
    assert.match(await ok(b!, 'config', 'import', path), /nothing to change/);
    const document = JSON.parse(plain) as { backupTargets: Record<string, unknown>[] };
    document.backupTargets.push({ ...document.backupTargets[0], name: 'spare' });
    await writeFile(path, JSON.stringify(document, null, 2));
    const dry = await ok(b!, 'config', 'import', path, '--dry-run');
    assert.ok(dry.includes(`+ backup target spare: ${davUrl} (no credentials)`), dry);
    await ok(b!, 'config', 'import', path);
    const { targets } = await get<BackupTargetList>(b!, '/backup-targets');
    assert.deepEqual(
      targets.map(({ name, credentials }) => ({ name, credentials })),
      [
        { name: 'dav', credentials: true },
        { name: 'offsite', credentials: true },
        { name: 'spare', credentials: false },
      ],
    );
    assert.match(await ok(b!, 'backup', 'target', 'test', 'dav'), /works/);
  });

  test('a step that fails part-way undoes every step before it', async () => {
    const before = await snapshot(b!);
    const document = JSON.parse(await readFile(exported, 'utf8')) as Record<string, unknown> & {
      platform: { label: string };
      stores: unknown[];
      instances: Record<string, unknown>[];
    };
    delete document.secrets;
    document.platform.label = 'Renamed';
    document.stores.push({
      name: 'second',
      url: 'http://127.0.0.1:9/apps.json',
      keys: [],
      allowUnsigned: true,
    });
    // A new instance whose trace flag the app does not know: it is made, then the flag fails.
    document.instances.push({
      id: 'gamma',
      app: appId,
      domain: 'example.org',
      path: '/gamma',
      enabled: true,
      excludeFromBackup: false,
      traceFlags: ['no-such-flag'],
    });
    const path = join(work, 'failing.json');
    await writeFile(path, JSON.stringify(document, null, 2));
    const result = await run(b!, 'config', 'import', path);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /every change of the import was undone/);
    assert.deepEqual(await snapshot(b!), before);
    const gone = await http('GET', { socket: b!.socket }, '/manager/api/v1/instances/gamma');
    assert.equal(gone.status, 404);
  });
});
