import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  buildStore,
  generateSigningKey,
  packageStatement,
  parseIndex,
  parsePrivateKey,
  parsePublicKey,
  publicKeyOf,
  signBytes,
  verifyBytes,
} from '../../src/core/appstore/index.js';
import { checkSource } from '../../src/core/appstore/sources.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import { makeTarGz } from '../helpers/archives.js';
import { makeTemp } from '../helpers/daemon.js';

const facts = { id: 'notes', version: '1.0.0', build: 3, sha256: 'ab'.repeat(32), size: 1234 };

describe('app store signatures', () => {
  const key = generateSigningKey();
  const privateKey = parsePrivateKey(key.privateKeyPem);
  const publicKey = parsePublicKey(key.publicKey);

  test('a key pair signs and verifies; the public key text is 43 base64url characters', () => {
    assert.match(key.publicKey, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(publicKeyOf(privateKey), key.publicKey);
    const signature = signBytes(Buffer.from('index'), privateKey);
    assert.equal(verifyBytes(Buffer.from('index'), signature, [publicKey]), true);
    assert.equal(verifyBytes(Buffer.from('index!'), signature, [publicKey]), false);
  });

  test('another key, a damaged or junk signature do not verify', () => {
    const other = parsePublicKey(generateSigningKey().publicKey);
    const signature = signBytes(Buffer.from('index'), privateKey);
    assert.equal(verifyBytes(Buffer.from('index'), signature, [other]), false);
    assert.equal(verifyBytes(Buffer.from('index'), signature, [other, publicKey]), true);
    const damaged = Buffer.from(signature, 'base64');
    damaged[0] = damaged[0]! ^ 1;
    assert.equal(verifyBytes(Buffer.from('index'), damaged.toString('base64'), [publicKey]), false);
    assert.equal(verifyBytes(Buffer.from('index'), 'junk', [publicKey]), false);
    assert.equal(verifyBytes(Buffer.from('index'), '', [publicKey]), false);
  });

  test('a package statement binds id, version, build, digest and size', () => {
    const signature = signBytes(packageStatement(facts), privateKey);
    assert.equal(verifyBytes(packageStatement(facts), signature, [publicKey]), true);
    for (const change of [
      { id: 'other' },
      { version: '1.0.1' },
      { build: 4 },
      { sha256: 'cd'.repeat(32) },
      { size: 1235 },
    ]) {
      assert.equal(
        verifyBytes(packageStatement({ ...facts, ...change }), signature, [publicKey]),
        false,
        JSON.stringify(change),
      );
    }
    // The digest's case does not matter: hex is hex.
    assert.equal(
      verifyBytes(packageStatement({ ...facts, sha256: facts.sha256.toUpperCase() }), signature, [
        publicKey,
      ]),
      true,
    );
  });

  test('public keys: base64url, base64 and PEM are read; anything else is APPSTORE_INVALID', () => {
    const base64 = Buffer.from(key.publicKey, 'base64url').toString('base64');
    assert.equal(publicKeyOf(privateKey), key.publicKey);
    const fromBase64 = parsePublicKey(base64);
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const fromPem = parsePublicKey(pem);
    const signature = signBytes(Buffer.from('x'), privateKey);
    assert.equal(verifyBytes(Buffer.from('x'), signature, [fromBase64]), true);
    assert.equal(verifyBytes(Buffer.from('x'), signature, [fromPem]), true);
    for (const bad of ['', 'short', 'A'.repeat(44), key.privateKeyPem]) {
      assert.throws(
        () => parsePublicKey(bad),
        (error: unknown) => error instanceof AppvisorError && error.code === 'APPSTORE_INVALID',
        bad.slice(0, 20),
      );
    }
  });

  test('a store URL with a control character is APPSTORE_INVALID, not silently cleaned', () => {
    for (const url of [
      'http://a.example/\u0000apps.json',
      'http://a.example/x\ty',
      'http://a.\nexample/',
    ]) {
      assert.throws(
        () => checkSource({ name: 'a', url, allowUnsigned: true }),
        (error: unknown) =>
          error instanceof AppvisorError &&
          error.code === 'APPSTORE_INVALID' &&
          error.field === 'url',
        JSON.stringify(url),
      );
    }
  });

  test('a private key that is not Ed25519 PEM is refused', () => {
    assert.throws(() => parsePrivateKey('nothing'), /not a PEM private key/);
  });
});

describe('apps.json', () => {
  const base = new URL('https://store.example/apps/apps.json');
  const version = (build: number, extra: Record<string, unknown> = {}) => ({
    version: `1.${build}`,
    build,
    url: `notes-${build}.zip`,
    sha256: 'AB'.repeat(32),
    size: 10,
    ...extra,
  });
  const parse = (value: unknown) => parseIndex(JSON.stringify(value), base, 'test');
  const refused = (value: unknown, message: RegExp) => {
    assert.throws(
      () => (typeof value === 'string' ? parseIndex(value, base, 'test') : parse(value)),
      (error: unknown) =>
        error instanceof AppvisorError &&
        error.code === 'APPSTORE_INDEX_INVALID' &&
        message.test(error.message),
    );
  };

  test('versions are sorted newest build first, URLs resolved, digests lower case, labels default', () => {
    const index = parse({
      apps: [
        {
          id: 'notes',
          versions: [version(1), version(10, { label: 'beta' }), version(2, { url: '/x.zip' })],
          unknownKey: true,
        },
      ],
    });
    const [app] = index.apps;
    assert.deepEqual(
      app!.versions.map((v) => [v.build, v.label, v.url]),
      [
        [10, 'beta', 'https://store.example/apps/notes-10.zip'],
        [2, 'final', 'https://store.example/x.zip'],
        [1, 'final', 'https://store.example/apps/notes-1.zip'],
      ],
    );
    assert.equal(app!.versions[0]!.sha256, 'ab'.repeat(32));
    assert.equal(app!.title, '');
  });

  test('what is wrong is refused, naming it', () => {
    refused('{"apps": [', /not valid JSON/);
    refused({}, /apps/);
    refused({ apps: [{ id: '../x', versions: [version(1)] }] }, /apps\.0\.id/);
    refused({ apps: [{ id: 'a', versions: [] }] }, /versions/);
    refused({ apps: [{ id: 'a', versions: [version(1, { sha256: 'xyz' })] }] }, /64 hex/);
    refused({ apps: [{ id: 'a', versions: [version(1, { build: -1 })] }] }, /build/);
    refused({ apps: [{ id: 'a', versions: [version(1), version(1)] }] }, /build 1 of a twice/);
    refused(
      {
        apps: [
          { id: 'a', versions: [version(1)] },
          { id: 'a', versions: [version(2)] },
        ],
      },
      /app a twice/,
    );
    refused(
      { apps: [{ id: 'a', versions: [version(1, { url: 'file:///etc/passwd' })] }] },
      /file: URL/,
    );
    refused({ format: 2, apps: [] }, /format/);
  });
});

describe('appvisor store build', () => {
  const pkg = async (folder: string, file: string, id: string, manifest: object) => {
    await makeTarGz(join(folder, file), [
      { name: `${id}/`, type: 'dir' },
      { name: `${id}/run`, mode: 0o755, content: '#!/bin/sh\nsleep 1\n' },
      { name: `${id}/app.json`, content: JSON.stringify(manifest) },
    ]);
  };

  test('writes a signed index that parses, with titles of the newest build', async () => {
    const folder = await makeTemp();
    const key = generateSigningKey();
    await pkg(folder, 'a-1.tar.gz', 'a', { version: '1', build: 1, title: 'Old title' });
    await pkg(folder, 'a-2.tar.gz', 'a', {
      version: '2',
      build: 2,
      title: 'A',
      description: 'The A app',
      label: 'beta',
    });
    await pkg(folder, 'b 1.tar.gz', 'b', { version: '0.9', build: 9 });
    await writeFile(join(folder, 'README.txt'), 'not a package');
    const result = await buildStore(folder, { key: parsePrivateKey(key.privateKeyPem) });
    const text = await readFile(join(folder, 'apps.json'), 'utf8');
    const signature = await readFile(join(folder, 'apps.json.sig'), 'utf8');
    const publicKey = parsePublicKey(key.publicKey);
    assert.equal(verifyBytes(Buffer.from(text), signature, [publicKey]), true);
    const index = parseIndex(text, new URL('http://127.0.0.1/s/apps.json'), 'built');
    assert.deepEqual(
      index.apps.map((app) => [
        app.id,
        app.title,
        app.description,
        app.versions.map((v) => v.label),
      ]),
      [
        ['a', 'A', 'The A app', ['beta', 'final']],
        ['b', '', '', ['final']],
      ],
    );
    assert.equal(index.apps[1]!.versions[0]!.url, 'http://127.0.0.1/s/b%201.tar.gz');
    for (const app of index.apps) {
      for (const v of app.versions) {
        const statement = packageStatement({ id: app.id, ...v });
        assert.equal(verifyBytes(statement, v.signature!, [publicKey]), true);
      }
    }
    assert.deepEqual(
      result.apps.map((app) => app.versions.map((v) => v.file)),
      [['a-2.tar.gz', 'a-1.tar.gz'], ['b 1.tar.gz']],
    );
  });

  test('a package without version and build, or a bad one, is refused naming the file', async () => {
    const folder = await makeTemp();
    await pkg(folder, 'nobuild.tar.gz', 'nobuild', { version: '1' });
    await assert.rejects(
      buildStore(folder),
      /nobuild\.tar\.gz: app\.json must give a version and a build/,
    );
    const other = await makeTemp();
    await mkdir(join(other, 'sub'));
    await writeFile(join(other, 'broken.zip'), 'PK\u0003\u0004 nonsense');
    await assert.rejects(buildStore(other), (error: unknown) => {
      return (
        error instanceof AppvisorError &&
        error.code === 'PACKAGE_INVALID' &&
        /^broken\.zip: /.test(error.message)
      );
    });
  });

  test('without a key the index is unsigned and an old signature is removed', async () => {
    const folder = await makeTemp();
    await pkg(folder, 'a.tar.gz', 'a', { version: '1', build: 1 });
    await writeFile(join(folder, 'apps.json.sig'), 'stale');
    const result = await buildStore(folder);
    assert.equal(result.signature, null);
    await assert.rejects(readFile(join(folder, 'apps.json.sig')));
  });
});
