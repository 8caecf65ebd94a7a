import assert from 'node:assert/strict';
import {
  link,
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { Parser, type ReadEntry } from 'tar';
import { packFolder } from '../../src/lib/folder-tar.js';
import {
  NotAFolderError,
  chownTree,
  ensureFolder,
  removeTree,
  walkFolder,
} from '../../src/lib/safe-fs.js';

const isRoot = process.getuid?.() === 0;

/** A folder outside the tree, with a file in it, that links in the tree point to. */
async function outside(root: string): Promise<{ folder: string; file: string }> {
  const folder = join(root, 'outside');
  await mkdir(folder, { mode: 0o755 });
  await chmod(folder, 0o755);
  const file = join(folder, 'secret');
  await writeFile(file, 'outside secret', { mode: 0o600 });
  return { folder, file };
}

async function tarEntries(
  stream: Readable,
): Promise<Map<string, { type: string; body: string; linkpath?: string }>> {
  const entries = new Map<string, { type: string; body: string; linkpath?: string }>();
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    const parts: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => parts.push(chunk));
    entry.on('end', () =>
      entries.set(entry.path, {
        type: entry.type,
        body: Buffer.concat(parts).toString(),
        ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
      }),
    );
  });
  await pipeline(stream, parser as unknown as Writable);
  return entries;
}

describe('safe-fs', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'appvisor-safe-fs-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('ensureFolder makes a folder with its mode, and refuses a link in its place', async () => {
    const made = join(root, 'made');
    await ensureFolder(made, 0o700);
    assert.equal((await stat(made)).mode & 0o777, 0o700);
    await chmod(made, 0o755);
    await ensureFolder(made, 0o700);
    assert.equal((await stat(made)).mode & 0o777, 0o700);

    const { folder } = await outside(await mkdtemp(join(root, 'e-')));
    const link = join(root, 'link');
    await symlink(folder, link);
    await assert.rejects(ensureFolder(link, 0o700, { uid: 65534, gid: 65534 }), NotAFolderError);
    const target = await stat(folder);
    assert.equal(target.mode & 0o777, 0o755);
    assert.equal(target.uid, process.getuid?.());
  });

  test('removeTree removes links, not their targets, and deep trees', async () => {
    const tree = join(root, 'tree');
    const { folder, file } = await outside(await mkdtemp(join(root, 'r-')));
    await mkdir(join(tree, 'a', 'b'), { recursive: true });
    await writeFile(join(tree, 'a', 'b', 'f'), 'x');
    await symlink(folder, join(tree, 'a', 'to-folder'));
    await symlink(file, join(tree, 'to-file'));
    let deep = join(tree, 'deep');
    for (let i = 0; i < 80; i++) deep = join(deep, 'd');
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'leaf'), 'leaf');
    await removeTree(tree);
    await assert.rejects(lstat(tree), { code: 'ENOENT' });
    assert.equal(await readFile(file, 'utf8'), 'outside secret');

    // The tree's own name a link: the link goes, the target stays whole.
    const link = join(root, 'tree-link');
    await symlink(folder, link);
    await removeTree(link);
    await assert.rejects(lstat(link), { code: 'ENOENT' });
    assert.equal(await readFile(file, 'utf8'), 'outside secret');
    await removeTree(join(root, 'missing'));
  });

  test('chownTree changes links themselves, never their targets', { skip: !isRoot }, async () => {
    const tree = join(root, 'own');
    const { folder, file } = await outside(await mkdtemp(join(root, 'c-')));
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'sub', 'f'), 'x');
    await symlink(folder, join(tree, 'to-folder'));
    await symlink(file, join(tree, 'sub', 'to-file'));
    await chownTree(tree, 65534, 65534);
    assert.equal((await stat(join(tree, 'sub', 'f'))).uid, 65534);
    assert.equal((await lstat(join(tree, 'sub', 'to-file'))).uid, 65534);
    assert.equal((await stat(tree)).uid, 65534);
    assert.equal((await stat(folder)).uid, 0);
    assert.equal((await stat(file)).uid, 0);
    await chown(tree, 0, 0);
  });

  test('walkFolder and packFolder store links as links, never what they point to', async () => {
    const tree = join(root, 'pack');
    const { folder, file } = await outside(await mkdtemp(join(root, 'p-')));
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'sub', 'kept'), 'kept content');
    await writeFile(join(tree, 'n'.repeat(120)), 'long name');
    await symlink(file, join(tree, 'to-file'));
    await symlink(folder, join(tree, 'to-folder'));
    const walked: string[] = [];
    for await (const entry of walkFolder(tree)) walked.push(entry.path);
    assert.deepEqual(walked, ['', 'n'.repeat(120), 'sub', 'sub/kept', 'to-file', 'to-folder']);

    const entries = await tarEntries(packFolder(tree));
    assert.equal(entries.get('./sub/kept')?.body, 'kept content');
    assert.equal(entries.get(`./${'n'.repeat(120)}`)?.body, 'long name');
    assert.equal(entries.get('./to-file')?.type, 'SymbolicLink');
    assert.equal(entries.get('./to-file')?.linkpath, file);
    for (const entry of entries.values()) assert.doesNotMatch(entry.body, /outside secret/);

    // The top folder itself a link: refused, nothing read.
    const link = join(root, 'pack-link');
    await symlink(folder, link);
    await assert.rejects(tarEntries(packFolder(link)), NotAFolderError);
  });

  test(
    'packFolder leaves out a second name of another user’s file',
    { skip: !isRoot },
    async () => {
      const tree = join(root, 'hard');
      await mkdir(tree);
      const other = join(await mkdtemp(join(root, 'h-')), 'theirs');
      await writeFile(other, 'outside secret', { mode: 0o600 });
      await chown(other, 65534, 65534);
      await link(other, join(tree, 'theirs'));
      await writeFile(join(tree, 'mine'), 'mine');
      const entries = await tarEntries(packFolder(tree));
      assert.equal(entries.get('./mine')?.body, 'mine');
      assert.equal(entries.has('./theirs'), false);
    },
  );
});
