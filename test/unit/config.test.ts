import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configKeys, loadConfig, renderConfigDocs } from '../../src/core/config/index.js';
import type { ConfigSources } from '../../src/core/config/index.js';
import { AppvisorError } from '../../src/core/errors/index.js';

let dir: string;
let fileCount = 0;

/** Writes a config file into the temp folder and returns its absolute path. */
async function configFile(content: unknown): Promise<string> {
  const path = join(dir, `config-${++fileCount}.json`);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Loads with an empty environment (never the test process's), from the temp folder. */
function load(sources: Partial<ConfigSources> = {}) {
  return loadConfig({ cwd: dir, isRoot: false, env: {}, ...sources });
}

/** Asserts a CONFIG_INVALID rejection whose message matches every pattern. */
async function rejectsInvalid(
  promise: Promise<unknown>,
  ...patterns: (RegExp | string)[]
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof AppvisorError, `expected an AppvisorError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), error.message);
      else assert.match(error.message, pattern);
    }
    assert.doesNotMatch(error.message, /\n/, 'the message is one line');
    return true;
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'appvisor-config-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadConfig defaults', () => {
  test('the data folder defaults to ./data resolved against cwd', async () => {
    const config = await load();
    assert.equal(config.data, resolve(dir, 'data'));
  });

  test('ports are 8080/8443 for a normal user and 80/443 for root', async () => {
    const user = await load({ isRoot: false });
    assert.equal(user.http.port, 8080);
    assert.equal(user.https.port, 8443);
    const root = await load({ isRoot: true });
    assert.equal(root.http.port, 80);
    assert.equal(root.https.port, 443);
  });

  test('an explicit port 0 is kept (pick a free port), not replaced by the default', async () => {
    const fromFlags = await load({ isRoot: true, flags: { 'http.port': '0', 'https.port': '0' } });
    assert.equal(fromFlags.http.port, 0);
    assert.equal(fromFlags.https.port, 0);
    const fromFile = await load({ file: await configFile({ http: { port: 0 } }) });
    assert.equal(fromFile.http.port, 0);
    const fromEnv = await load({ env: { APPVISOR_HTTPS_PORT: '0' } });
    assert.equal(fromEnv.https.port, 0);
  });

  test('other keys get their documented defaults', async () => {
    const config = await load();
    assert.equal(config.https.enabled, true);
    assert.equal(config.http.host, '');
    assert.equal(config.database.url, null);
    assert.equal(config.log.level, 'info');
    assert.equal(config.admin.loginAttempts, 5);
  });

  test('a relative data path is resolved against cwd, an absolute one kept', async () => {
    const relative = await load({ flags: { data: 'var/appvisor' } });
    assert.equal(relative.data, resolve(dir, 'var/appvisor'));
    const absolute = join(dir, 'elsewhere');
    assert.equal((await load({ flags: { data: absolute } })).data, absolute);
  });
});

describe('loadConfig sources', () => {
  test('precedence: flags > environment > file > defaults', async () => {
    const file = await configFile({ http: { port: 1001, host: 'from-file' } });
    const env = { APPVISOR_HTTP_PORT: '1002' };
    const flags = { 'http.port': '1003' };

    assert.equal((await load({ file })).http.port, 1001);
    assert.equal((await load({ file, env })).http.port, 1002);
    const all = await load({ file, env, flags });
    assert.equal(all.http.port, 1003);
    // a stronger source overrides only the keys it names
    assert.equal(all.http.host, 'from-file');
    assert.equal(all.https.port, 8443);
  });

  test('the file can be given with APPVISOR_CONFIG; an explicit file wins over it', async () => {
    const envFile = await configFile({ http: { port: 2001 } });
    const flagFile = await configFile({ http: { port: 2002 } });
    assert.equal((await load({ env: { APPVISOR_CONFIG: envFile } })).http.port, 2001);
    const both = await load({ file: flagFile, env: { APPVISOR_CONFIG: envFile } });
    assert.equal(both.http.port, 2002);
  });

  test('a relative file path is read from cwd', async () => {
    const path = await configFile({ http: { port: 2003 } });
    const name = path.slice(dir.length + 1);
    assert.equal((await load({ file: name })).http.port, 2003);
  });

  test('APPVISOR_URL, APPVISOR_TOKEN and APPVISOR_CONFIG are accepted, not refused as unknown', async () => {
    const file = await configFile({});
    await load({
      env: { APPVISOR_URL: 'https://example.test', APPVISOR_TOKEN: 'abc', APPVISOR_CONFIG: file },
    });
  });

  test('variables outside APPVISOR_* are ignored', async () => {
    const config = await load({ env: { HOME: '/root', PATH: '/bin', HTTP_PORT: 'x' } });
    assert.equal(config.http.port, 8080);
  });

  test('booleans from the environment accept on/off, yes/no, true/false, 1/0', async () => {
    for (const [text, value] of [
      ['off', false],
      ['OFF', false],
      ['no', false],
      ['0', false],
      ['false', false],
      ['on', true],
      ['yes', true],
      ['1', true],
      [' True ', true],
    ] as const) {
      const config = await load({ env: { APPVISOR_HTTPS_ENABLED: text } });
      assert.equal(config.https.enabled, value, `APPVISOR_HTTPS_ENABLED=${text}`);
    }
    await rejectsInvalid(
      load({ env: { APPVISOR_HTTPS_ENABLED: 'maybe' } }),
      'APPVISOR_HTTPS_ENABLED',
    );
  });

  test('a nullable key set to an empty string in the environment becomes null', async () => {
    const file = await configFile({ database: { url: 'postgres://admin@db.example/postgres' } });
    assert.equal((await load({ file })).database.url, 'postgres://admin@db.example/postgres');
    const config = await load({ file, env: { APPVISOR_DATABASE_URL: '' } });
    assert.equal(config.database.url, null);
  });

  test('numbers from the environment and flags are parsed', async () => {
    const config = await load({
      env: { APPVISOR_DATABASE_MAX_CONNECTIONS: '800' },
      flags: { 'shutdown.graceSeconds': '2.5' },
    });
    assert.equal(config.database.maxConnections, 800);
    assert.equal(config.shutdown.graceSeconds, 2.5);
  });
});

describe('loadConfig errors', () => {
  test('a cluster name needs an external database, and a name of the documented form', async () => {
    await rejectsInvalid(load({ flags: { 'cluster.name': 'lab' } }), 'database.url');
    const url = 'postgres://admin@db.example/postgres';
    const joined = await load({ flags: { 'cluster.name': 'lab', 'database.url': url } });
    assert.equal(joined.cluster.name, 'lab');
    assert.equal(joined.cluster.leaseSeconds, 10);
    await rejectsInvalid(
      load({ flags: { 'cluster.name': 'Lab One', 'database.url': url } }),
      'cluster.name',
    );
  });

  test('a non-number port in the environment names the variable', async () => {
    await rejectsInvalid(load({ env: { APPVISOR_HTTP_PORT: 'abc' } }), 'APPVISOR_HTTP_PORT');
  });

  test('an unknown APPVISOR_* variable is refused and named', async () => {
    await rejectsInvalid(load({ env: { APPVISOR_FOO: '1' } }), 'APPVISOR_FOO');
  });

  test('an unknown flag key is refused and named', async () => {
    await rejectsInvalid(load({ flags: { 'http.prot': '1' } }), 'http.prot');
  });

  test('an out-of-range value is refused and the key named', async () => {
    await rejectsInvalid(
      load({ env: { APPVISOR_HTTP_PORT: '70000' } }),
      'environment APPVISOR_HTTP_PORT',
      'http.port',
    );
    await rejectsInvalid(load({ flags: { 'log.files': '0' } }), 'flag log.files', 'log.files');
  });

  test('numbers are plain decimals: hex and exponents are refused', async () => {
    await rejectsInvalid(load({ env: { APPVISOR_HTTP_PORT: '0x1F90' } }), 'APPVISOR_HTTP_PORT');
    await rejectsInvalid(load({ flags: { 'https.port': '1e3' } }), 'https.port');
  });

  test('an unknown key in the file names the file and the key', async () => {
    const file = await configFile({ htp: {} });
    await rejectsInvalid(load({ file }), file, 'htp');
  });

  test('an unknown nested key in the file is named with its path', async () => {
    const file = await configFile({ http: { prot: 1 } });
    await rejectsInvalid(load({ file }), file, 'http.prot');
  });

  test('a wrong type in the file names the file and the key', async () => {
    const file = await configFile({ http: { port: 'x' } });
    await rejectsInvalid(load({ file }), file, 'http.port');
  });

  test('a file that is not valid JSON is refused', async () => {
    const file = await configFile('{"http": {');
    await rejectsInvalid(load({ file }), file);
  });

  test('a file whose top level is not an object is refused', async () => {
    const file = await configFile('[1, 2]');
    await rejectsInvalid(load({ file }), file);
  });

  test('a missing file is refused and named', async () => {
    const file = join(dir, 'does-not-exist.json');
    await rejectsInvalid(load({ file }), file);
  });
});

describe('configKeys', () => {
  test('lists every key with a description and an APPVISOR_ variable', () => {
    assert.ok(configKeys.length > 0);
    for (const key of configKeys) {
      assert.ok(key.description.trim().length > 0, `${key.key} has no description`);
      assert.match(key.env, /^APPVISOR_[A-Z0-9_]+$/, `${key.key} → ${key.env}`);
    }
  });

  test('keys and variables are unique and named after the key path', () => {
    assert.equal(new Set(configKeys.map((k) => k.key)).size, configKeys.length);
    assert.equal(new Set(configKeys.map((k) => k.env)).size, configKeys.length);
    const byKey = new Map(configKeys.map((k) => [k.key, k.env]));
    assert.equal(byKey.get('http.port'), 'APPVISOR_HTTP_PORT');
    assert.equal(byKey.get('database.maxConnections'), 'APPVISOR_DATABASE_MAX_CONNECTIONS');
    assert.equal(byKey.get('data'), 'APPVISOR_DATA');
  });

  test('every listed variable and flag is accepted with its default value', async () => {
    for (const key of configKeys) {
      const value = key.default;
      assert.ok(
        value === null || ['string', 'number', 'boolean'].includes(typeof value),
        `${key.key} has a default no variable can express`,
      );
      const text = value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
      await load({ env: { [key.env]: text } });
      await load({ flags: { [key.key]: text } });
    }
  });
});

describe('docs/configuration.md', () => {
  test('is what renderConfigDocs() renders from the schema', async () => {
    const url = new URL('../../../docs/configuration.md', import.meta.url);
    let onDisk: string;
    try {
      onDisk = await readFile(url, 'utf8');
    } catch {
      assert.fail(`${url.pathname} is missing: run \`npm run docs:config\` to write it`);
    }
    assert.equal(
      onDisk,
      renderConfigDocs(),
      'docs/configuration.md is out of date: run `npm run docs:config`',
    );
  });
});
