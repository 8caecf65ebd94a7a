/**
 * The archive written in one pass (archive.ts with lib/tar-in-place.ts): its members are what
 * the manifest says they are, byte for byte, every reader (ours and GNU tar) reads it, damage is
 * still found, and encrypted and uploaded archives are the same tar.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { create as createTar } from 'tar';
import { writeArchive, type ArchiveInput } from '../../src/core/backup/archive.js';
import { checkArchive, readManifest, unpackArchive } from '../../src/core/backup/archive-read.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import { InPlaceTar } from '../../src/lib/tar-in-place.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';

/** A dump of `tables` tables of `rows` rows each, in pg_dump's plain layout. */
function dumpText(tables: number, rows: number, prefix = 'items'): string {
  const parts = ["--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n"];
  for (let t = 0; t < tables; t++) {
    const name = `${prefix}_${String(t).padStart(5, '0')}`;
    parts.push(`--\n-- Data for Name: ${name}; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n`);
    parts.push(`COPY public.${name} (id, body) FROM stdin;\n`);
    for (let r = 0; r < rows; r++)
      parts.push(`${r}\t${createHash('md5').update(`${t}:${r}`).digest('hex')}\n`);
    parts.push('\\.\n\n\n');
  }
  parts.push('--\n-- PostgreSQL database dump complete\n--\n\n');
  return parts.join('');
}

/** `text` streamed in 64 KiB chunks, as pg_dump's output comes. */
function streamOf(text: string): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536));
  return Readable.from(chunks);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let root: string;
let dataDir: string;
let n = 0;

function input(dump: string, extra: Partial<ArchiveInput> = {}): ArchiveInput {
  n++;
  return {
    dump: streamOf(dump),
    dataDir,
    manifest: {
      app: { id: 'echo', version: '1.0.0' },
      instance: {
        id: 'notes',
        domain: '',
        path: '/notes',
        enabled: true,
        excludeFromBackup: false,
        traceFlags: [],
      },
      createdAt: new Date(0).toISOString(),
    },
    workDir: join(root, '.work'),
    path: join(root, 'out', `archive-${n}.tar`),
    ...extra,
  };
}

/** Extracts `path` with GNU tar into a fresh folder and answers it. */
function gnuExtract(path: string): string {
  const folder = join(root, `gnu-${n}-${Math.random().toString(16).slice(2)}`);
  execFileSync('mkdir', ['-p', folder]);
  execFileSync('tar', ['-xf', path, '-C', folder]);
  return folder;
}

describe('backup archive written in one pass', () => {
  before(async () => {
    root = await makeTemp('appvisor-archive-pass-');
    dataDir = join(root, 'instance');
    await mkdir(join(dataDir, 'sub'), { recursive: true });
    await writeFile(join(dataDir, 'a.txt'), 'hello\n');
    await writeFile(join(dataDir, 'sub', 'b.bin'), Buffer.alloc(70_000, 7));
  });
  after(async () => {
    await removeTemp(root);
  });

  test("each member's digest is the sha256 of its real bytes, and GNU tar reads it", async () => {
    const dump = dumpText(20, 500);
    const written = await writeArchive(input(dump));
    const folder = gnuExtract(written.path);
    assert.deepEqual((await readdir(folder)).sort(), ['db.sql.gz', 'files.tar', 'manifest.json']);
    const manifest = JSON.parse(
      await readFile(join(folder, 'manifest.json'), 'utf8'),
    ) as typeof written.manifest;
    assert.deepEqual(manifest, written.manifest);
    for (const name of ['db.sql.gz', 'files.tar'] as const) {
      const bytes = await readFile(join(folder, name));
      assert.equal(manifest.members[name].size, bytes.length, name);
      assert.equal(manifest.members[name].sha256, sha256(bytes), name);
    }
    assert.equal(gunzipSync(await readFile(join(folder, 'db.sql.gz'))).toString(), dump);
    assert.equal(manifest.dumpBytes, Buffer.byteLength(dump));
    assert.equal(manifest.tables?.['public.items_00019'], 500);
    const listed = execFileSync('tar', ['-tf', join(folder, 'files.tar')], { encoding: 'utf8' });
    assert.match(listed, /sub\/b\.bin/);
    assert.equal(written.size, (await stat(written.path)).size);
    assert.equal((await stat(written.path)).mode & 0o777, 0o600);
    // Our own readers: the whole check, the manifest alone, the unpack with its digests.
    assert.deepEqual((await checkArchive(written.path)).manifest, written.manifest);
    assert.deepEqual(await readManifest(written.path), written.manifest);
    const unpackTo = join(root, `unpack-${n}`);
    await mkdir(unpackTo);
    const unpacked = await unpackArchive(written.path, unpackTo);
    assert.equal(gunzipSync(await readFile(unpacked.dumpFile)).toString(), dump);
  });

  test('a damaged member is BACKUP_INVALID for check and unpack', async () => {
    const written = await writeArchive(input(dumpText(3, 2000)));
    // A byte in the middle of db.sql.gz: after the manifest's 64 KiB and the member's header.
    const handle = await open(written.path, 'r+');
    try {
      const at = 64 * 1024 + 512 + 1000;
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, at);
    } finally {
      await handle.close();
    }
    await assert.rejects(checkArchive(written.path), (error: unknown) => {
      assert.ok(error instanceof AppvisorError);
      assert.equal(error.code, 'BACKUP_INVALID');
      assert.match(error.message, /db\.sql\.gz/);
      return true;
    });
    const unpackTo = join(root, `unpack-bad-${n}`);
    await mkdir(unpackTo);
    await assert.rejects(unpackArchive(written.path, unpackTo), { code: 'BACKUP_INVALID' });
  });

  test('a manifest larger than its reserved space is placed whole (many tables)', async () => {
    // 3,000 tables with long names: a manifest of about 200 KiB.
    const dump = dumpText(3000, 1, 'a_table_with_a_rather_long_name_to_grow_the_manifest');
    const written = await writeArchive(input(dump));
    assert.equal(Object.keys(written.manifest.tables ?? {}).length, 3000);
    const checked = await checkArchive(written.path);
    assert.deepEqual(checked.manifest, written.manifest);
    const folder = gnuExtract(written.path);
    const bytes = await readFile(join(folder, 'db.sql.gz'));
    assert.equal(sha256(bytes), written.manifest.members['db.sql.gz'].sha256);
  });

  test('an archive in the layout of earlier versions (tar of the work files) still reads', async () => {
    const written = await writeArchive(input(dumpText(2, 10)));
    const folder = gnuExtract(written.path);
    // Earlier versions wrote the manifest at its exact size with node-tar from work files.
    const old = join(root, 'old-layout.tar');
    await pipeline(
      createTar({ cwd: folder, portable: true }, [
        'manifest.json',
        'db.sql.gz',
        'files.tar',
      ]) as unknown as Readable,
      createWriteStream(old),
    );
    assert.deepEqual((await checkArchive(old)).manifest, written.manifest);
    const unpackTo = join(root, 'unpack-old');
    await mkdir(unpackTo);
    assert.deepEqual((await unpackArchive(old, unpackTo)).manifest, written.manifest);
  });

  test('an encrypted archive is the same tar behind the cipher', async () => {
    const dump = dumpText(5, 300);
    const written = await writeArchive(input(dump, { passphrase: 'correct horse' }));
    assert.deepEqual(await checkArchive(written.path), { encrypted: true, manifest: null });
    await assert.rejects(readManifest(written.path), { code: 'PASSPHRASE_WRONG' });
    assert.deepEqual(await readManifest(written.path, 'correct horse'), written.manifest);
    const unpackTo = join(root, 'unpack-encrypted');
    await mkdir(unpackTo);
    const unpacked = await unpackArchive(written.path, unpackTo, 'correct horse');
    assert.equal(gunzipSync(await readFile(unpacked.dumpFile)).toString(), dump);
  });

  test('an uploaded archive is streamed whole, and nothing is left in the work folder', async () => {
    const uploadedTo = join(root, 'uploaded.tar');
    const written = await writeArchive(
      input(dumpText(5, 300), {
        upload: (archive) => pipeline(archive, createWriteStream(uploadedTo)),
      }),
    );
    assert.equal(written.size, (await stat(uploadedTo)).size);
    assert.deepEqual((await checkArchive(uploadedTo)).manifest, written.manifest);
    await assert.rejects(stat(written.path), { code: 'ENOENT' });
    assert.deepEqual(await readdir(join(root, '.work')), []);
  });

  test('a dump that fails midway leaves no archive and no work file', async () => {
    const path = join(root, 'out', 'failed.tar');
    const broken = Readable.from(
      (async function* () {
        yield Buffer.from(dumpText(2, 1000));
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('connection lost');
      })(),
    );
    await assert.rejects(writeArchive({ ...input(''), dump: broken, path }), /connection lost/);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    assert.deepEqual(await readdir(join(root, '.work')), []);
  });
});

describe('InPlaceTar', () => {
  test('members of any size, empty ones too, read back by GNU tar', async () => {
    const folder = await makeTemp('appvisor-tar-in-place-');
    try {
      const path = join(folder, 'x.tar');
      const tar = await InPlaceTar.create(path);
      const sizes = [0, 1, 511, 512, 513, 100_000];
      try {
        const write = tar.reserve('first', 7);
        for (const [i, size] of sizes.entries()) {
          const place = await tar.append(`m${i}`, (out) =>
            pipeline(Readable.from([Buffer.alloc(size, i + 1)]), out),
          );
          assert.equal(place.size, size);
        }
        await write(Buffer.from('seven!\n'));
        await assert.rejects(write(Buffer.from('six!\n')), RangeError);
        assert.equal(await tar.finish(), (await stat(path)).size);
      } finally {
        await tar.close();
      }
      const out = join(folder, 'out');
      await mkdir(out);
      execFileSync('tar', ['-xf', path, '-C', out]);
      assert.equal(await readFile(join(out, 'first'), 'utf8'), 'seven!\n');
      for (const [i, size] of sizes.entries()) {
        assert.deepEqual(await readFile(join(out, `m${i}`)), Buffer.alloc(size, i + 1));
      }
    } finally {
      await removeTemp(folder);
    }
  });
});
