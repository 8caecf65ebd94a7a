/**
 * The configuration file without a platform: reading (lines and keys in errors), the secrets
 * block, and importing into a fake platform: the plan, the order of the steps, and the undo
 * of every step when one fails.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  checkTarget,
  type BackupTarget,
  type TargetCredentials,
  type TargetInput,
} from '../../src/core/backup/index.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import {
  ConfigTransfer,
  parseDocument,
  renderDocument,
  type ConfigDocument,
  type TransferPorts,
} from '../../src/core/transfer/index.js';
import { fakeInstanceView } from './core-fakes.js';
import { makeEcCertificate } from '../helpers/certificates.js';

/** The fake platforms' certificate: a real one, since an import checks it. */
let certificate = { cert: '', key: '' };
before(async () => {
  certificate = await makeEcCertificate();
});

function baseDocument(): ConfigDocument {
  return {
    kind: 'appvisor-config',
    format: 1,
    platform: { label: 'Lab', dnsName: 'apps.example.com', alarmUrl: '', alarmEmail: '' },
    stores: [],
    apps: [
      {
        id: 'notes',
        version: '1.0.0',
        build: null,
        store: null,
        autostart: true,
        logMaxBytes: null,
        logFiles: 3,
        memoryMaxBytes: null,
        cpuWeight: null,
        pidsMax: null,
      },
    ],
    instances: [
      {
        id: 'acme',
        app: 'notes',
        domain: 'example.com',
        path: '/example.com/acme',
        enabled: true,
        excludeFromBackup: false,
        traceFlags: [],
      },
    ],
    backupSchedule: { cron: null, template: '#A/#I-#d.tar', slots: 3, keep: 0, verify: false },
  };
}

interface FakeInstance {
  id: string;
  app: string;
  domain: string;
  path: string;
  enabled: boolean;
  excludeFromBackup: boolean;
  traceFlags: string[];
  password: string;
  node?: string;
}

/**
 * A platform in memory; `failOn` makes one call throw; `log` records every change. `nodes`
 * makes it a cluster's: the nodes that can take instances (each view names its node).
 */
function fakePlatform(options: { failOn?: string; failUndo?: string; nodes?: string[] } = {}) {
  const log: string[] = [];
  let undoing = false;
  const settings = { label: '', dnsName: '', alarmUrl: '', alarmEmail: '' };
  const appSettings = {
    autostart: false,
    logMaxBytes: null as number | null,
    logFiles: null as number | null,
    memoryMaxBytes: null as number | null,
    cpuWeight: null as number | null,
    pidsMax: null as number | null,
  };
  const instances = new Map<string, FakeInstance>();
  const targets = new Map<string, { view: BackupTarget; credentials: TargetCredentials }>();
  /** Sets a target as the real registry would store it, credentials apart. */
  const seedTarget = (input: TargetInput): BackupTarget => {
    const { name, url, endpoint, region, pathStyle, ...credentials } = input;
    const view: BackupTarget = {
      ...checkTarget({
        name,
        url,
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(region === undefined ? {} : { region }),
        ...(pathStyle === undefined ? {} : { pathStyle }),
      }),
      kind: url.startsWith('s3://') ? 's3' : 'webdav',
      credentials: Object.keys(credentials).length > 0,
      createdAt: '',
    };
    targets.set(name, { view, credentials });
    return view;
  };
  const change = (name: string) => {
    log.push(name);
    if (name === options.failOn && !undoing) {
      undoing = true;
      throw new AppvisorError('INVALID_INSTANCE', `${name} refused`);
    }
    if (undoing && name === options.failUndo) throw new Error(`${name} broke`);
  };
  const view = (i: FakeInstance) => fakeInstanceView(i);
  const ports: TransferPorts = {
    settings: {
      get: () => Promise.resolve({ ...settings, defaults: { alarmUrl: '', alarmEmail: '' } }),
      update: (patch) => {
        change(`settings ${Object.keys(patch).join()}`);
        Object.assign(settings, patch);
        return Promise.resolve({ ...settings, defaults: { alarmUrl: '', alarmEmail: '' } });
      },
    },
    certificates: {
      status: () => ({ subject: 'CN=old' }) as never,
      pair: () => certificate,
      set: () => Promise.reject(new Error('not in these tests')),
    },
    sources: {
      list: () => Promise.resolve([]),
      put: () => Promise.reject(new Error('not in these tests')),
      remove: () => Promise.resolve(),
    },
    appStore: {
      install: () => Promise.reject(new Error('no stores')),
      installed: () => Promise.resolve(new Map()),
    },
    apps: {
      list: () =>
        Promise.resolve([
          {
            id: 'notes',
            version: '1.0.0',
            autostart: appSettings.autostart,
            runnable: true,
            state: 'running' as const,
          },
        ]),
      settingsOf: () => ({ ...appSettings }),
      configure: (_id, patch) => {
        change(`app ${Object.keys(patch).join()}`);
        Object.assign(appSettings, patch);
        return Promise.resolve({} as never);
      },
      uninstall: () => Promise.resolve(),
      hostsInstances: () => true,
    },
    instances: {
      list: () => [...instances.values()].map(view),
      show: (id, reveal) => {
        const found = instances.get(id);
        if (!found) throw new AppvisorError('INSTANCE_NOT_FOUND');
        const shown = view(found);
        return reveal?.reveal ? shown : { ...shown, password: undefined };
      },
      create: (app, id, made, where) => {
        const nodes = options.nodes;
        const node =
          nodes === undefined
            ? undefined
            : where?.node !== undefined && nodes.includes(where.node)
              ? where.node
              : nodes[0];
        change(`create ${id}${node === undefined ? '' : ` on ${node}`}`);
        const instance: FakeInstance = {
          id,
          app,
          domain: made.domain ?? 'localhost',
          path: made.path ?? `/x/${id}`,
          enabled: true,
          excludeFromBackup: false,
          traceFlags: [],
          password: made.password ?? 'generated-pw',
          ...(node === undefined ? {} : { node }),
        };
        instances.set(id, instance);
        return Promise.resolve(view(instance));
      },
      set: (id, patch) => {
        change(`set ${id} ${Object.keys(patch).join()}`);
        Object.assign(instances.get(id)!, patch);
        return Promise.resolve(view(instances.get(id)!));
      },
      trace: (id, changes) => {
        change(`trace ${id} ${changes.join()}`);
        return Promise.resolve(view(instances.get(id)!));
      },
      delete: (id) => {
        change(`delete ${id}`);
        instances.delete(id);
        return Promise.resolve();
      },
      ...(options.nodes === undefined
        ? {}
        : {
            pin: (_app: string, node: string) =>
              Promise.resolve(
                options.nodes!.includes(node)
                  ? { node }
                  : { refused: `no node ${node} is registered` },
              ),
          }),
    },
    backups: {
      schedule: () => ({
        cron: null,
        template: '#A/#I-#d.tar',
        slots: 3,
        keep: 0,
        verify: false,
        target: null,
        nextRun: null,
      }),
      setSchedule: () => Promise.reject(new Error('not in these tests')),
      listTargets: () => Promise.resolve([...targets.values()].map((t) => t.view)),
      targetCredentials: (name) => Promise.resolve({ ...targets.get(name)!.credentials }),
      putTarget: (input) => {
        change(`target ${input.name}`);
        return Promise.resolve(seedTarget(input));
      },
      removeTarget: (name) => {
        change(`remove target ${name}`);
        targets.delete(name);
        return Promise.resolve();
      },
    },
  };
  const events: string[] = [];
  const transfer = new ConfigTransfer({
    ...ports,
    events: {
      record: (event) => {
        events.push(`${event.kind}: ${event.text}`);
        return { ...event, at: '' };
      },
    },
  });
  return { transfer, log, settings, appSettings, instances, targets, seedTarget, events };
}

describe('the configuration file', () => {
  test('a syntax error names its line', () => {
    const text = renderDocument(baseDocument()).replace('"format": 1,', '"format": 1,,');
    assert.throws(() => parseDocument(text), /IMPORT_INVALID|not JSON \(line 3\)/);
    assert.throws(
      () => parseDocument(text),
      (error: AppvisorError) => error.code === 'IMPORT_INVALID',
    );
  });

  test('a wrong value names its key and line; an unknown key is named before a missing one', () => {
    const text = renderDocument(baseDocument());
    const lines = text.split('\n');
    const pathLine = lines.findIndex((line) => line.includes('"path"')) + 1;
    assert.throws(
      () => parseDocument(text.replace('"enabled": true', '"enabled": "yes"')),
      (error: AppvisorError) =>
        error.field === 'instances[0].enabled' &&
        error.message.startsWith(`instances[0].enabled (line ${pathLine + 1}):`),
    );
    assert.throws(
      () => parseDocument(text.replace('"dnsName"', '"dnsname"')),
      (error: AppvisorError) =>
        error.field === 'platform.dnsname' && /unknown key "dnsname"/.test(error.message),
    );
    assert.throws(
      () => parseDocument(text.replace('"format": 1', '"format": 2')),
      /format 1 is the one this manager reads/,
    );
  });

  test('a document survives rendering and reading unchanged', () => {
    const document = baseDocument();
    assert.deepEqual(parseDocument(renderDocument(document)), document);
  });
});

describe('importing into a platform', () => {
  test('a dry run plans without changing; the import applies in order; a second finds nothing', async () => {
    const platform = fakePlatform();
    const text = renderDocument(baseDocument());
    const dry = await platform.transfer.import(text, { dryRun: true });
    assert.equal(dry.applied, false);
    assert.deepEqual(platform.log, []);
    assert.deepEqual(
      dry.changes.map((c) => c.text),
      [
        '~ platform label: "" -> "Lab"',
        '~ platform dnsName: "" -> "apps.example.com"',
        '~ app notes autostart: false -> true',
        '~ app notes logFiles: null -> 3',
        '+ instance acme of notes at example.com/example.com/acme (new password)',
      ],
    );
    const done = await platform.transfer.import(text);
    assert.equal(done.applied, true);
    assert.deepEqual(platform.log, [
      'settings label',
      'settings dnsName',
      'app autostart',
      'app logFiles',
      'create acme',
    ]);
    assert.equal(platform.instances.get('acme')?.path, '/example.com/acme');
    assert.match(platform.events.join('\n'), /config\.imported: configuration imported: 5 changes/);
    const again = await platform.transfer.import(text);
    assert.equal(again.applied, false);
    assert.equal(platform.log.length, 5);
  });

  test('a failing step undoes itself and every step before it, newest first', async () => {
    const document = baseDocument();
    document.instances[0]!.traceFlags = ['database'];
    const platform = fakePlatform({ failOn: 'trace acme +database' });
    await assert.rejects(
      platform.transfer.import(renderDocument(document)),
      (error: AppvisorError) =>
        error.code === 'INVALID_INSTANCE' &&
        /every change of the import was undone/.test(error.message),
    );
    assert.deepEqual(platform.log.slice(6), [
      'delete acme',
      'app logFiles',
      'app autostart',
      'settings dnsName',
      'settings label',
    ]);
    assert.deepEqual(platform.settings, { label: '', dnsName: '', alarmUrl: '', alarmEmail: '' });
    assert.equal(platform.appSettings.autostart, false);
    assert.equal(platform.appSettings.logFiles, null);
    assert.equal(platform.instances.size, 0);
  });

  test('an undo that fails too is IMPORT_FAILED naming what stays changed', async () => {
    const document = baseDocument();
    document.instances[0]!.traceFlags = ['database'];
    const platform = fakePlatform({ failOn: 'trace acme +database', failUndo: 'settings label' });
    await assert.rejects(
      platform.transfer.import(renderDocument(document)),
      (error: AppvisorError) =>
        error.code === 'IMPORT_FAILED' &&
        /platform label: "" -> "Lab" \(settings label broke\)/.test(error.message),
    );
    assert.match(platform.events.join('\n'), /could not be undone completely/);
  });

  test('checks run before any change: an app from a package file that is not installed', async () => {
    const document = baseDocument();
    document.apps.push({ ...document.apps[0]!, id: 'other' });
    const platform = fakePlatform();
    await assert.rejects(
      platform.transfer.import(renderDocument(document)),
      (error: AppvisorError) =>
        error.code === 'IMPORT_CONFLICT' &&
        error.field === 'apps[1].store' &&
        /line \d+/.test(error.message),
    );
    assert.deepEqual(platform.log, []);
  });

  test('two instances on one path are refused before any change', async () => {
    const document = baseDocument();
    document.instances.push({ ...document.instances[0]!, id: 'copy' });
    const platform = fakePlatform();
    await assert.rejects(
      platform.transfer.import(renderDocument(document)),
      (error: AppvisorError) =>
        error.code === 'IMPORT_CONFLICT' && /the path of the instance acme/.test(error.message),
    );
    assert.deepEqual(platform.log, []);
  });

  test('an alarm URL keeps its credentials out of the file and in the secrets', async () => {
    const source = fakePlatform();
    source.settings.alarmUrl = 'https://hook:s3cret-token@alarms.example.com/in';
    const plain = await source.transfer.export();
    assert.equal(plain.platform.alarmUrl, 'https://alarms.example.com/in');
    assert.ok(!renderDocument(plain).includes('s3cret-token'));
    // Importing the file without secrets back leaves the URL with its credentials alone.
    const same = await source.transfer.import(renderDocument(plain), { dryRun: true });
    assert.ok(!same.changes.some((change) => change.field === 'alarmUrl'));

    const sealed = await source.transfer.export({
      includeSecrets: true,
      passphrase: 'a passphrase',
    });
    assert.ok(!renderDocument(sealed).includes('s3cret-token'));
    const target = fakePlatform();
    const result = await target.transfer.import(renderDocument(sealed), {
      passphrase: 'a passphrase',
    });
    assert.equal(target.settings.alarmUrl, 'https://hook:s3cret-token@alarms.example.com/in');
    assert.ok(!JSON.stringify(result).includes('s3cret-token'));
    await assert.rejects(
      target.transfer.import(renderDocument(sealed), { passphrase: 'wrong one' }),
      (error: AppvisorError) => error.code === 'PASSPHRASE_WRONG',
    );
  });

  test('backup targets: credentials only sealed; without them a same-URL target keeps its own', async () => {
    const source = fakePlatform();
    await source.transfer.import(renderDocument(baseDocument()));
    source.seedTarget({
      name: 'offsite',
      url: 's3://backups/lab',
      endpoint: 'http://127.0.0.1:9000',
      accessKey: 'AKIDEXAMPLE',
      secretKey: 'wJalr-secret-key',
    });
    source.seedTarget({
      name: 'dav',
      url: 'https://dav.example.com/lab',
      user: 'backup',
      password: 'dav-pass-word',
    });
    const ports = source.targets;
    const plain = renderDocument(await source.transfer.export());
    for (const secret of ['AKIDEXAMPLE', 'wJalr-secret-key', 'dav-pass-word']) {
      assert.ok(!plain.includes(secret), secret);
    }
    const document = parseDocument(plain);
    assert.deepEqual(document.backupTargets, [
      {
        name: 'offsite',
        url: 's3://backups/lab',
        endpoint: 'http://127.0.0.1:9000',
        region: 'us-east-1',
        pathStyle: true,
      },
      {
        name: 'dav',
        url: 'https://dav.example.com/lab',
        endpoint: null,
        region: null,
        pathStyle: null,
      },
    ]);

    // Back into the same platform without secrets: nothing to change, credentials stay.
    const same = await source.transfer.import(plain);
    assert.equal(same.applied, false);
    assert.equal(ports.get('offsite')?.credentials.secretKey, 'wJalr-secret-key');

    // Another URL for the same name: the credentials were for the other server and go.
    const moved = parseDocument(plain);
    moved.backupTargets![1]!.url = 'https://other.example.com/lab';
    const plan = await source.transfer.import(renderDocument(moved), { dryRun: true });
    assert.ok(
      plan.changes.some(
        (c) =>
          c.text ===
          '~ backup target dav: url "https://dav.example.com/lab" -> "https://other.example.com/lab", credentials (secret) -> none',
      ),
      JSON.stringify(plan.changes),
    );

    // A fresh platform: without secrets, targets come without credentials; with, with them.
    const bare = fakePlatform();
    const added = await bare.transfer.import(plain, { dryRun: true });
    assert.ok(
      added.changes.some(
        (c) => c.text === '+ backup target dav: https://dav.example.com/lab (no credentials)',
      ),
    );
    const sealed = renderDocument(
      await source.transfer.export({ includeSecrets: true, passphrase: 'a passphrase' }),
    );
    assert.ok(!sealed.includes('wJalr-secret-key'));
    const fresh = fakePlatform();
    const result = await fresh.transfer.import(sealed, { passphrase: 'a passphrase' });
    assert.ok(!JSON.stringify(result).includes('wJalr-secret-key'));
    assert.deepEqual(fresh.targets.get('offsite')?.credentials, {
      accessKey: 'AKIDEXAMPLE',
      secretKey: 'wJalr-secret-key',
    });
    assert.deepEqual(fresh.targets.get('dav')?.credentials, {
      user: 'backup',
      password: 'dav-pass-word',
    });
  });

  test('a file without backupTargets leaves the targets; a bad one names its key and line', async () => {
    const platform = fakePlatform();
    platform.seedTarget({ name: 'dav', url: 'https://dav.example.com/x' });
    const old = await platform.transfer.import(renderDocument(baseDocument()), { dryRun: true });
    assert.ok(old.changes.some((c) => c.text === '= backup target dav: kept (not in the file)'));
    const document = baseDocument();
    document.backupTargets = [
      {
        name: 'dav',
        url: 'https://dav.example.com/x',
        endpoint: null,
        region: null,
        pathStyle: null,
      },
      { name: 'bad', url: 'ftp://host/x', endpoint: null, region: null, pathStyle: null },
    ];
    const text = renderDocument(document);
    await assert.rejects(platform.transfer.import(text), (error: AppvisorError) => {
      assert.equal(error.code, 'IMPORT_INVALID');
      assert.equal(error.field, 'backupTargets[1].url');
      assert.match(
        error.message,
        /backupTargets\[1\]\.url \(line \d+\): url is an http:\/\/ or https:\/\/ URL/,
      );
      return true;
    });
    document.backupTargets[1] = { ...document.backupTargets[0]! };
    await assert.rejects(
      platform.transfer.import(renderDocument(document)),
      (error: AppvisorError) =>
        error.field === 'backupTargets[1].name' && /listed twice/.test(error.message),
    );
    assert.deepEqual(platform.log, []);
  });

  test('a failing import removes a target it added and puts back one it changed', async () => {
    const platform = fakePlatform({ failOn: 'target third' });
    platform.seedTarget({
      name: 'dav',
      url: 'https://dav.example.com/x',
      user: 'u',
      password: 'p',
    });
    const document = baseDocument();
    const target = { endpoint: null, region: null, pathStyle: null };
    document.backupTargets = [
      { name: 'dav', url: 'https://dav.example.com/y', ...target },
      {
        name: 'new',
        url: 's3://bucket-one',
        endpoint: null,
        region: 'eu-west-1',
        pathStyle: false,
      },
      { name: 'third', url: 'https://dav.example.com/z', ...target },
    ];
    await assert.rejects(
      platform.transfer.import(renderDocument(document)),
      (error: AppvisorError) => /every change of the import was undone/.test(error.message),
    );
    // The failed step made nothing, so it removes nothing; the others are undone newest first.
    assert.deepEqual(platform.log.slice(5, 11), [
      'target dav',
      'target new',
      'target third',
      'remove target new',
      'target dav',
      'delete acme',
    ]);
    assert.deepEqual(platform.targets.get('dav')?.credentials, { user: 'u', password: 'p' });
    assert.equal(platform.targets.get('dav')?.view.url, 'https://dav.example.com/x');
    assert.deepEqual([...platform.targets.keys()], ['dav']);
  });
});

describe('the file of a cluster: each instance with its node', () => {
  const withNode = (node: string) => {
    const document = baseDocument();
    document.instances[0]!.node = node;
    return document;
  };

  test('an export names each instance’s node on a cluster, and none on a single platform', async () => {
    const cluster = fakePlatform({ nodes: ['n1', 'n2'] });
    await cluster.transfer.import(renderDocument(withNode('n2')));
    const exported = await cluster.transfer.export();
    assert.equal(exported.instances[0]!.node, 'n2');
    assert.deepEqual(parseDocument(renderDocument(exported)).instances, exported.instances);

    const single = fakePlatform();
    await single.transfer.import(renderDocument(baseDocument()));
    assert.ok(!('node' in (await single.transfer.export()).instances[0]!));
    assert.throws(
      () =>
        parseDocument(
          renderDocument(baseDocument()).replace('"app": "notes",', '"app": "notes", "node": 7,'),
        ),
      (error: AppvisorError) =>
        error.code === 'IMPORT_INVALID' && error.field === 'instances[0].node',
    );
  });

  test('a new instance goes to its node when that node can take it; else placement chooses, said in the plan', async () => {
    const pinned = fakePlatform({ nodes: ['n1', 'n2'] });
    const plan = await pinned.transfer.import(renderDocument(withNode('n2')), { dryRun: true });
    assert.ok(
      plan.changes.some(
        (c) =>
          c.text ===
          '+ instance acme of notes at example.com/example.com/acme on node n2 (new password)',
      ),
    );
    await pinned.transfer.import(renderDocument(withNode('n2')));
    assert.ok(pinned.log.includes('create acme on n2'));

    const elsewhere = fakePlatform({ nodes: ['n1', 'n2'] });
    const stray = await elsewhere.transfer.import(renderDocument(withNode('gone')), {
      dryRun: true,
    });
    assert.ok(
      stray.changes.some(
        (c) =>
          c.text ===
          '+ instance acme of notes at example.com/example.com/acme on the node placement chooses (no node gone is registered) (new password)',
      ),
    );
    await elsewhere.transfer.import(renderDocument(withNode('gone')));
    assert.ok(elsewhere.log.includes('create acme on n1'));

    // A platform of one node has no nodes to choose: the key is read and left alone.
    const single = fakePlatform();
    const done = await single.transfer.import(renderDocument(withNode('n2')));
    assert.ok(
      done.changes.some(
        (c) => c.text === '+ instance acme of notes at example.com/example.com/acme (new password)',
      ),
    );
    assert.ok(single.log.includes('create acme'));
  });

  test('an existing instance on another node than the file says stays where it is', async () => {
    const platform = fakePlatform({ nodes: ['n1', 'n2'] });
    await platform.transfer.import(renderDocument(withNode('n1')));
    const before = platform.log.length;
    const result = await platform.transfer.import(renderDocument(withNode('n2')));
    assert.equal(result.applied, false);
    assert.equal(platform.log.length, before);
    assert.deepEqual(
      result.changes.map((c) => c.text),
      [
        '= instance acme node: kept (it is on node n1, the file says n2; move it with "appvisor instance move")',
      ],
    );
  });
});
