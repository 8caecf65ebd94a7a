import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { folderUsage } from '../../src/lib/folder-usage.js';
import { NotAFolderError } from '../../src/lib/safe-fs.js';

const mib = 1024 * 1024;

describe('folderUsage: the disk space of a tree, links never followed, work bounded', () => {
  let root: string;
  let tree: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'folder-usage-'));
    tree = join(root, 'tree');
    await mkdir(join(tree, 'a', 'b'), { recursive: true });
    await writeFile(join(tree, 'a', 'b', 'one'), Buffer.alloc(mib, 1));
    // A second name of the same file: counted once.
    await link(join(tree, 'a', 'b', 'one'), join(tree, 'again'));
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'big'), Buffer.alloc(8 * mib, 1));
    await symlink(join(outside, 'big'), join(tree, 'to-file'));
    await symlink(outside, join(tree, 'to-folder'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('counts every entry once and links as links', async () => {
    const usage = await folderUsage(tree);
    assert.equal(usage.complete, true);
    // tree, a, b, one, again, to-file, to-folder
    assert.equal(usage.entries, 7);
    assert.ok(usage.bytes >= mib && usage.bytes < 2 * mib, `${usage.bytes} bytes`);
  });

  test('a link in place of the top is refused', async () => {
    await assert.rejects(folderUsage(join(tree, 'to-folder')), NotAFolderError);
  });

  test('the entry bound, the depth bound and the deadline make it a lower bound', async () => {
    const few = await folderUsage(tree, { maxEntries: 3 });
    assert.deepEqual([few.entries, few.complete], [3, false]);
    // The top's entries, but not what is in a/.
    const shallow = await folderUsage(tree, { maxDepth: 0 });
    assert.deepEqual([shallow.entries, shallow.complete], [5, false]);
    const late = await folderUsage(tree, { deadline: Date.now() - 1 });
    assert.deepEqual([late.entries, late.complete], [0, false]);
  });
});
