import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create as createTar } from 'tar';
import { extractPackage, type ExtractOptions } from '../../src/core/catalog/package-reader.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import {
  makeTar,
  makeTarGz,
  makeZeroBombZip,
  makeZip,
  tarBytes,
  truncate,
  type ArchiveEntry,
} from '../helpers/archives.js';

let root: string;
let cases = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'appvisor-package-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh folder per case: the archive goes in it, and `target` is `<dir>/out`. */
async function scratch(): Promise<{ dir: string; target: string }> {
  cases += 1;
  const dir = join(root, `case-${cases}`);
  await mkdir(dir);
  return { dir, target: join(dir, 'out') };
}

type Maker = (path: string, entries: ArchiveEntry[]) => Promise<void>;
const formats: [string, Maker][] = [
  ['zip', makeZip],
  ['tar.gz', makeTarGz],
];

/** Builds an archive with `make`, extracts it, and returns the result and paths. */
async function extract(make: Maker, entries: ArchiveEntry[], options?: ExtractOptions) {
  const { dir, target } = await scratch();
  const archive = join(dir, 'package');
  await make(archive, entries);
  const result = await extractPackage(archive, target, options);
  return { dir, target, result };
}

/** Changes the type flag of the tar header at `offset` and fixes its checksum. */
function retype(tar: Buffer, offset: number, flag: string): void {
  const header = tar.subarray(offset, offset + 512);
  header.write(flag, 156, 1, 'latin1');
  header.fill(' ', 148, 156);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

/** Asserts that extracting fails with `code`, a message holding every fragment, and no target. */
async function refused(
  make: Maker,
  entries: ArchiveEntry[],
  code: string,
  fragments: string[],
  options?: ExtractOptions,
): Promise<{ dir: string; message: string }> {
  const { dir, target } = await scratch();
  const archive = join(dir, 'package');
  await make(archive, entries);
  const message = await refusedAt(archive, target, code, fragments, options);
  return { dir, message };
}

async function refusedAt(
  archive: string,
  target: string,
  code: string,
  fragments: string[],
  options?: ExtractOptions,
): Promise<string> {
  let message = '';
  await assert.rejects(extractPackage(archive, target, options), (error: unknown) => {
    assert.ok(error instanceof AppvisorError, `not an AppvisorError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    message = error.message;
    return true;
  });
  assert.equal(existsSync(target), false, 'the target folder is left behind');
  return message;
}

const goodEntries: ArchiveEntry[] = [
  { name: 'app', type: 'dir' },
  { name: 'app/run', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
  { name: 'app/app.json', content: '{"version":"1.0.0"}\n' },
  { name: 'app/lib', type: 'dir' },
  { name: 'app/lib/deep/util.js', content: 'export const x = 1;\n' }, // parent not listed
  { name: 'app/empty', type: 'dir' },
  { name: 'app/current', type: 'symlink', target: 'lib/deep' },
  { name: 'app/lib/run-link', type: 'symlink', target: '../run' },
];
const goodBytes = goodEntries.reduce((sum, entry) => sum + (entry.content?.length ?? 0), 0);

async function assertGoodPackage(target: string): Promise<void> {
  assert.equal(await readFile(join(target, 'run'), 'utf8'), '#!/bin/sh\necho hello\n');
  assert.equal((await stat(join(target, 'run'))).mode & 0o777, 0o755);
  assert.equal((await stat(join(target, 'app.json'))).mode & 0o777, 0o644);
  assert.equal(await readFile(join(target, 'lib/deep/util.js'), 'utf8'), 'export const x = 1;\n');
  assert.equal((await stat(target)).mode & 0o777, 0o755);
  assert.equal((await stat(join(target, 'lib/deep'))).mode & 0o777, 0o755);
  assert.deepEqual(await readdir(join(target, 'empty')), []);
  assert.ok((await lstat(join(target, 'current'))).isSymbolicLink());
  assert.equal(await readlink(join(target, 'current')), 'lib/deep');
  assert.equal(await readFile(join(target, 'current/util.js'), 'utf8'), 'export const x = 1;\n');
  assert.equal(await readlink(join(target, 'lib/run-link')), '../run');
  assert.deepEqual((await readdir(target)).sort(), ['app.json', 'current', 'empty', 'lib', 'run']);
}

describe('extractPackage: good packages', () => {
  for (const [format, make] of formats) {
    test(`a ${format} unpacks its top folder's content, modes, symlinks and empty folders`, async () => {
      const { target, result } = await extract(make, goodEntries);
      assert.deepEqual(result, { id: 'app', entries: goodEntries.length, bytes: goodBytes });
      await assertGoodPackage(target);
    });
  }

  test('a plain tar unpacks too', async () => {
    const { target, result } = await extract(makeTar, goodEntries);
    assert.equal(result.id, 'app');
    await assertGoodPackage(target);
  });

  test('the format comes from the content, not the name', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'package.tar.gz'); // really a zip
    await makeZip(archive, goodEntries);
    assert.equal((await extractPackage(archive, target)).id, 'app');
    await assertGoodPackage(target);
  });

  test('a stored (not deflated) zip and names with ./ and without folder entries', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'package');
    await makeZip(archive, [{ name: './my_app-2/bin/run', content: 'x', mode: 0o700 }], {
      store: true,
    });
    const result = await extractPackage(archive, target);
    assert.deepEqual(result, { id: 'my_app-2', entries: 1, bytes: 1 });
    assert.equal((await stat(join(target, 'bin/run'))).mode & 0o777, 0o755);
  });

  test('the expected id is accepted when it matches the top folder', async () => {
    const { result } = await extract(makeZip, goodEntries, { expectedId: 'app' });
    assert.equal(result.id, 'app');
  });

  test('a 64-character id is accepted', async () => {
    const id = 'a'.repeat(64);
    const { result } = await extract(makeTarGz, [{ name: `${id}/run`, content: 'x' }]);
    assert.equal(result.id, id);
  });

  test('a tar hard link to an earlier file becomes a hard link', async () => {
    const { target } = await extract(makeTarGz, [
      { name: 'app/run', content: 'data', mode: 0o755 },
      { name: 'app/again', type: 'hardlink', target: 'app/run' },
    ]);
    const [first, second] = await Promise.all([
      stat(join(target, 'run')),
      stat(join(target, 'again')),
    ]);
    assert.equal(first.ino, second.ino);
  });

  test('a folder listed twice, or after its children, is fine', async () => {
    const { target, result } = await extract(makeTarGz, [
      { name: 'app/sub/file', content: 'x' },
      { name: 'app/sub', type: 'dir' },
      { name: 'app/sub', type: 'dir' },
    ]);
    assert.equal(result.entries, 3);
    assert.equal(await readFile(join(target, 'sub/file'), 'utf8'), 'x');
  });

  test('a tar.gz made by node-tar (pax headers for long names) unpacks', async () => {
    const { dir, target } = await scratch();
    const source = join(dir, 'src');
    const longName = `${'n'.repeat(120)}.txt`;
    await mkdir(join(source, 'app', 'deep'), { recursive: true });
    await writeFile(join(source, 'app', 'deep', longName), 'long');
    await writeFile(join(source, 'app', 'run'), 'run', { mode: 0o755 });
    const archive = join(dir, 'package.tgz');
    await createTar({ gzip: true, file: archive, cwd: source, portable: true }, ['app']);
    const result = await extractPackage(archive, target);
    assert.equal(result.id, 'app');
    assert.equal(await readFile(join(target, 'deep', longName), 'utf8'), 'long');
    assert.equal((await stat(join(target, 'run'))).mode & 0o777, 0o755);
  });

  test('large files stream through intact (zip and tar.gz)', async () => {
    const big = randomBytes(8 * 1024 * 1024 + 123);
    for (const [, make] of formats) {
      const { target, result } = await extract(make, [
        { name: 'app/a.bin', content: big },
        { name: 'app/b.bin', content: big.subarray(0, 1000) },
      ]);
      assert.equal(result.bytes, big.length + 1000);
      assert.ok((await readFile(join(target, 'a.bin'))).equals(big));
    }
  });

  test('an existing target is an error and is left alone', async () => {
    const { dir, target } = await scratch();
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'mine');
    const archive = join(dir, 'package');
    await makeZip(archive, goodEntries);
    await assert.rejects(extractPackage(archive, target), { code: 'EEXIST' });
    assert.equal(await readFile(join(target, 'keep'), 'utf8'), 'mine');
  });
});

describe('extractPackage: ids and top folders', () => {
  test('a top folder other than the expected id names both', async () => {
    await refused(makeZip, goodEntries, 'PACKAGE_INVALID', ['"app"', '"other"'], {
      expectedId: 'other',
    });
  });

  for (const id of ['bad id', 'x'.repeat(65)]) {
    test(`top folder ${JSON.stringify(id.slice(0, 10))} (length ${id.length}) is INVALID_APP_ID`, async () => {
      for (const [, make] of formats) {
        await refused(make, [{ name: `${id}/run`, content: 'x' }], 'INVALID_APP_ID', [id]);
      }
    });
  }

  test('an invalid expected id is INVALID_APP_ID', async () => {
    await refused(makeZip, goodEntries, 'INVALID_APP_ID', ['a/b'], { expectedId: 'a/b' });
  });

  for (const [format, make] of formats) {
    test(`${format}: two top folders are refused`, async () => {
      await refused(
        make,
        [
          { name: 'app/run', content: 'x' },
          { name: 'other/run', content: 'x' },
        ],
        'PACKAGE_INVALID',
        ['"app"', '"other"', 'other/run'],
      );
    });

    test(`${format}: a file at the top level is refused`, async () => {
      await refused(
        make,
        [{ name: 'app/run', content: 'x' }, { name: 'README' }],
        'PACKAGE_INVALID',
        ['top level', 'README'],
      );
    });
  }
});

describe('extractPackage: hostile names and links', () => {
  for (const [format, make] of formats) {
    test(`${format}: zip-slip app/../x is refused and nothing lands outside`, async () => {
      const { dir } = await refused(
        make,
        [
          { name: 'app/run', content: 'x' },
          { name: 'app/../x', content: 'evil' },
        ],
        'PACKAGE_INVALID',
        ['app/../x'],
      );
      assert.deepEqual(await readdir(dir), ['package']);
      assert.equal(existsSync(join(root, 'x')), false);
    });

    test(`${format}: an absolute name is refused`, async () => {
      await refused(
        make,
        [
          { name: 'app/run', content: 'x' },
          { name: '/etc/passwd', content: 'evil' },
        ],
        'PACKAGE_INVALID',
        ['/etc/passwd'],
      );
    });

    test(`${format}: a backslash in a name is refused`, async () => {
      await refused(make, [{ name: 'app\\evil', content: 'evil' }], 'PACKAGE_INVALID', [
        'app\\evil',
        'backslash',
      ]);
      // yauzl reads `\` as `/` before it checks for `..`: refused, named with slashes.
      await refused(make, [{ name: 'app\\..\\..\\evil', content: 'evil' }], 'PACKAGE_INVALID', [
        format === 'zip' ? 'app/../../evil' : 'app\\..\\..\\evil',
      ]);
    });

    test(`${format}: a symlink to an absolute path is refused`, async () => {
      await refused(
        make,
        [{ name: 'app/passwd', type: 'symlink', target: '/etc/passwd' }],
        'PACKAGE_INVALID',
        ['app/passwd', '/etc/passwd'],
      );
    });

    test(`${format}: a symlink leading out of the folder is refused`, async () => {
      await refused(
        make,
        [{ name: 'app/l', type: 'symlink', target: '../../outside' }],
        'PACKAGE_INVALID',
        ['app/l', '../../outside'],
      );
      // `..` from the package folder itself is already outside it.
      await refused(
        make,
        [{ name: 'app/sub/l', type: 'symlink', target: '../..' }],
        'PACKAGE_INVALID',
        ['app/sub/l'],
      );
    });

    test(`${format}: a symlink leading out through a later symlink is refused`, async () => {
      // y -> x/up/.. looks inside until x/up -> .. arrives: then it is the parent of the package.
      await refused(
        make,
        [
          { name: 'app/y', type: 'symlink', target: 'x/up/..' },
          { name: 'app/x/up', type: 'symlink', target: '..' },
        ],
        'PACKAGE_INVALID',
        ['app/y'],
      );
    });

    test(`${format}: a symlink loop is refused`, async () => {
      await refused(
        make,
        [
          { name: 'app/a', type: 'symlink', target: 'b' },
          { name: 'app/b', type: 'symlink', target: 'a' },
        ],
        'PACKAGE_INVALID',
        ['loop', 'app/a'],
      );
    });

    test(`${format}: an entry written through a symlink is refused`, async () => {
      const { dir } = await refused(
        make,
        [
          { name: 'app/sub', type: 'dir' },
          { name: 'app/l', type: 'symlink', target: 'sub' },
          { name: 'app/l/f', content: 'through the link' },
        ],
        'PACKAGE_INVALID',
        ['app/l/f', 'symlink'],
      );
      assert.deepEqual(await readdir(dir), ['package']);
    });

    test(`${format}: a file replaced by a folder, or the reverse, is refused`, async () => {
      await refused(
        make,
        [
          { name: 'app/thing', content: 'x' },
          { name: 'app/thing/inner', content: 'y' },
        ],
        'PACKAGE_INVALID',
        ['app/thing/inner'],
      );
      await refused(
        make,
        [
          { name: 'app/thing', type: 'dir' },
          { name: 'app/thing', content: 'x' },
        ],
        'PACKAGE_INVALID',
        ['app/thing', 'dir'],
      );
      await refused(
        make,
        [
          { name: 'app/thing', content: 'x' },
          { name: 'app/thing', content: 'again' },
        ],
        'PACKAGE_INVALID',
        ['duplicate', 'app/thing'],
      );
    });

    test(`${format}: a FIFO is refused`, async () => {
      await refused(
        make,
        [
          { name: 'app/run', content: 'x' },
          { name: 'app/pipe', type: 'fifo' },
        ],
        'PACKAGE_INVALID',
        ['app/pipe'],
      );
    });
  }

  test('tar: devices and types node-tar does not know are refused', async () => {
    const { dir } = await scratch();
    // '3' character device, '4' block device, 'S' GNU sparse file, 'V' volume header.
    for (const flag of ['3', '4', 'S', 'V']) {
      const tar = tarBytes([
        { name: 'app/run', content: 'x' },
        { name: 'app/odd', type: 'fifo' },
      ]);
      retype(tar, 1024, flag); // the second header, after the first one and its data block
      const archive = join(dir, `odd-${flag}.tar`);
      await writeFile(archive, tar);
      await refusedAt(archive, join(dir, `out-${flag}`), 'PACKAGE_INVALID', ['app/odd']);
    }
  });

  test('zip: a name the file system cannot take is PACKAGE_INVALID', async () => {
    await refused(makeZip, [{ name: `app/${'n'.repeat(300)}`, content: 'x' }], 'PACKAGE_INVALID', [
      'too long',
    ]);
  });

  test('tar: a hard link to outside, or to a missing entry, is refused', async () => {
    for (const target of ['/etc/passwd', '../etc/passwd', 'app/../../x', 'other/run']) {
      await refused(
        makeTarGz,
        [
          { name: 'app/run', content: 'x' },
          { name: 'app/h', type: 'hardlink', target },
        ],
        'PACKAGE_INVALID',
        ['app/h', 'out of the package'],
      );
    }
    await refused(
      makeTarGz,
      [
        { name: 'app/run', content: 'x' },
        { name: 'app/h', type: 'hardlink', target: 'app/missing' },
      ],
      'PACKAGE_INVALID',
      ['app/h', 'missing'],
    );
  });
});

describe('extractPackage: limits and bombs', () => {
  let bomb: string;
  const bombBytes = 1024 ** 3; // 1 GiB of zeros, about 1 MB deflated

  before(async () => {
    const { dir } = await scratch();
    bomb = join(dir, 'bomb.zip');
    await makeZeroBombZip(bomb, 'app', bombBytes);
  });

  test('a 1 GiB zip bomb is stopped early by the ratio limit', async () => {
    const { dir, target } = await scratch();
    const started = Date.now();
    await refusedAt(bomb, target, 'PACKAGE_INVALID', ['200 times', 'app/zeros']);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    assert.deepEqual(await readdir(dir), []);
  });

  test('with the ratio limit raised, the same bomb is stopped by maxBytes', async () => {
    const { target } = await scratch();
    const started = Date.now();
    await refusedAt(bomb, target, 'PACKAGE_INVALID', ['67108864 bytes', 'app/zeros'], {
      limits: { maxRatio: 1e9, maxBytes: 64 * 1024 * 1024 },
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
  });

  test('a tar.gz bomb is stopped by the ratio limit too', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'bomb.tgz');
    await writeFile(
      archive,
      gzipSync(tarBytes([{ name: 'app/zeros', content: Buffer.alloc(64 * 1024 * 1024) }])),
    );
    await refusedAt(archive, target, 'PACKAGE_INVALID', ['200 times', 'app/zeros']);
  });

  test('zeros hidden after the end of a tar still count', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'trailing.tgz');
    const tar = tarBytes([{ name: 'app/run', content: 'x' }]);
    await writeFile(archive, gzipSync(Buffer.concat([tar, Buffer.alloc(64 * 1024 * 1024)])));
    await refusedAt(archive, target, 'PACKAGE_INVALID', ['200 times']);
  });

  for (const [format, make] of formats) {
    test(`${format}: too many entries are refused`, async () => {
      const entries = Array.from({ length: 20 }, (_, i) => ({ name: `app/f${i}`, content: 'x' }));
      await refused(make, entries, 'PACKAGE_INVALID', ['more than 10 entries'], {
        limits: { maxEntries: 10 },
      });
    });
  }

  test('a small package that compresses very well is not taken for a bomb', async () => {
    // 4 MiB of zeros deflate to a few KB: a ratio far over 200, but harmless at this size.
    for (const [, make] of formats) {
      const { result } = await extract(make, [
        { name: 'app/padding', content: Buffer.alloc(4 * 1024 * 1024) },
      ]);
      assert.equal(result.bytes, 4 * 1024 * 1024);
    }
  });

  test('limits at exactly the size are allowed', async () => {
    const { result } = await extract(makeZip, [{ name: 'app/a', content: '1234' }], {
      limits: { maxBytes: 4, maxEntries: 1 },
    });
    assert.equal(result.bytes, 4);
  });
});

describe('extractPackage: corrupt and unrecognised archives', () => {
  test('a truncated zip is refused', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'package.zip');
    await makeZip(archive, [{ name: 'app/a', content: randomBytes(50_000) }]);
    await truncate(archive, 20_000);
    await refusedAt(archive, target, 'PACKAGE_INVALID', ['zip']);
  });

  test('a zip whose data is damaged is refused', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'package.zip');
    await makeZip(archive, [{ name: 'app/a', content: 'a'.repeat(10_000) }]);
    const bytes = await readFile(archive);
    bytes.fill(0xff, 40, 60); // inside the deflated data
    await writeFile(archive, bytes);
    await refusedAt(archive, target, 'PACKAGE_INVALID', ['app/a']);
  });

  test('a truncated tar.gz is refused, wherever it is cut', async () => {
    const { dir } = await scratch();
    const archive = join(dir, 'package.tgz');
    const entries = [
      { name: 'app/a', content: randomBytes(100_000) },
      { name: 'app/b', content: 'b' },
    ];
    await makeTarGz(archive, entries);
    const { size } = await stat(archive);
    for (const keep of [10, 5000, 50_000, size - 4]) {
      await makeTarGz(archive, entries);
      await truncate(archive, keep);
      await refusedAt(archive, join(dir, `out-${keep}`), 'PACKAGE_INVALID', ['tar']);
    }
  });

  test('a truncated plain tar is refused, mid-entry or at an entry boundary', async () => {
    const { dir } = await scratch();
    const archive = join(dir, 'package.tar');
    const tar = tarBytes([
      { name: 'app/a', content: 'a'.repeat(2000) },
      { name: 'app/b', content: 'b' },
    ]);
    for (const keep of [1000, 512 + 2048]) {
      await writeFile(archive, tar.subarray(0, keep));
      await refusedAt(archive, join(dir, `out-${keep}`), 'PACKAGE_INVALID', ['tar']);
    }
  });

  test('a tar with a damaged header checksum is refused', async () => {
    const { dir, target } = await scratch();
    const archive = join(dir, 'package.tar');
    const tar = tarBytes([
      { name: 'app/a', content: 'a' },
      { name: 'app/b', content: 'b' },
    ]);
    tar.writeUInt8(tar.readUInt8(1024 + 10) ^ 0xff, 1024 + 10); // inside the second header's name
    await writeFile(archive, tar);
    await refusedAt(archive, target, 'PACKAGE_INVALID', ['tar']);
  });

  test('random bytes, an empty file, a gzip of no tar are refused', async () => {
    const { dir } = await scratch();
    const cases: [string, Buffer][] = [
      ['random', randomBytes(4096)],
      ['empty', Buffer.alloc(0)],
      ['text.gz', gzipSync('just some text, not a tar archive at all')],
      ['zeros.tar', Buffer.alloc(10240)],
    ];
    for (const [name, bytes] of cases) {
      const archive = join(dir, name);
      await writeFile(archive, bytes);
      await refusedAt(archive, join(dir, `out-${name}`), 'PACKAGE_INVALID', []);
    }
  });

  test('a folder given as the archive is refused', async () => {
    const { dir, target } = await scratch();
    await refusedAt(dir, target, 'PACKAGE_INVALID', ['not a regular file']);
  });

  test('empty archives are refused', async () => {
    await refused(makeZip, [], 'PACKAGE_INVALID', ['empty']);
    await refused(makeTarGz, [], 'PACKAGE_INVALID', []);
  });
});
