import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { readManifest } from '../../src/core/backup/archive-read.js';
import { numberedName, writeArchive } from '../../src/core/backup/archive.js';

/** A dump script of one comment line: the archive takes only scripts that pg_dump finished. */
const script = (line: string) => `${line}--\n-- PostgreSQL database dump complete\n--\n`;

/** Writes a small archive of `dump` (one line) to `path` (relative to `root`). */
function write(root: string, path: string, dump: string, replace = false) {
  return writeArchive({
    dump: Readable.from([Buffer.from(script(dump))]),
    dataDir: join(root, 'data'),
    manifest: {
      app: { id: 'echo', version: '1' },
      instance: {
        id: 'acme',
        domain: 'example.com',
        path: '/example.com/acme',
        enabled: true,
        excludeFromBackup: false,
        traceFlags: [],
      },
      createdAt: new Date().toISOString(),
    },
    workDir: join(root, '.work'),
    path: join(root, path),
    replace,
  });
}

describe('names of backup archives', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'appvisor-names-'));
    await mkdir(join(root, 'data'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a number goes before the last extension, or at the end', () => {
    assert.equal(
      numberedName('/b/echo/acme-20260102-030405.tar', 2),
      '/b/echo/acme-20260102-030405-2.tar',
    );
    assert.equal(numberedName('/b/plain', 3), '/b/plain-3');
    assert.equal(numberedName('/b/v1.2/.hidden', 2), '/b/v1.2/.hidden-2');
  });

  test('twenty writers of one name at once each keep their own archive', async () => {
    const written = await Promise.all(
      Array.from({ length: 20 }, (_, i) => write(root, 'same/acme.tar', `-- dump ${i}\n`)),
    );
    const paths = written.map((w) => w.path);
    assert.equal(new Set(paths).size, 20);
    assert.deepEqual(
      (await readdir(join(root, 'same'))).sort(),
      ['acme.tar', ...Array.from({ length: 19 }, (_, i) => `acme-${i + 2}.tar`)].sort(),
    );
    for (const path of paths) assert.equal((await readManifest(path)).instance.id, 'acme');
    assert.deepEqual(await readdir(join(root, '.work')), [], 'no work files left');
  });

  test('a rolling slot is replaced', async () => {
    const first = await write(root, 'slot/acme-0.tar', '-- one\n', true);
    const second = await write(root, 'slot/acme-0.tar', '-- two, longer\n', true);
    assert.equal(first.path, second.path);
    assert.deepEqual(await readdir(join(root, 'slot')), ['acme-0.tar']);
    assert.equal((await readManifest(second.path)).dumpBytes, script('-- two, longer\n').length);
  });
});
