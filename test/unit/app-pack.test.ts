/** Packing an installed app the same way on every node (src/lib/reproducible-tar.ts). */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, utimes, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { list } from 'tar';
import { writeReproducibleTar } from '../../src/lib/reproducible-tar.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';

test('the same package packs to the same bytes on every node, whatever its times', async () => {
  const work = await makeTemp();
  let n = 0;
  /** The package of `<work>/<copy>/notes`, as bytes. */
  const packInstalled = async (folder: string, id: string) => {
    const target = join(work, `pack-${n++}.tar`);
    await writeReproducibleTar(join(folder, '..'), id, target);
    return readFile(target);
  };
  try {
    const one = join(work, 'one', 'notes');
    await mkdir(join(one, 'lib', 'deep'), { recursive: true });
    await writeFile(join(one, 'run'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(one, 'app.json'), '{"instances": true}');
    await writeFile(join(one, 'lib', 'b.js'), 'b');
    await writeFile(join(one, 'lib', 'a.js'), 'a');
    await writeFile(join(one, 'lib', 'deep', 'z.js'), 'z');
    await symlink('a.js', join(one, 'lib', 'link.js'));
    const two = join(work, 'two', 'notes');
    await cp(one, two, { recursive: true, verbatimSymlinks: true });
    await utimes(join(two, 'lib', 'a.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const first = await packInstalled(one, 'notes');
    const second = await packInstalled(two, 'notes');
    assert.ok(first.equals(second), 'identical bytes');
    const names: string[] = [];
    const archive = join(work, 'p.tar');
    await writeFile(archive, first);
    await list({ file: archive, onReadEntry: (entry) => names.push(entry.path) });
    assert.deepEqual(names, [
      'notes/',
      'notes/app.json',
      'notes/lib/',
      'notes/lib/a.js',
      'notes/lib/b.js',
      'notes/lib/deep/',
      'notes/lib/deep/z.js',
      'notes/lib/link.js',
      'notes/run',
    ]);
    await writeFile(join(two, 'lib', 'a.js'), 'changed');
    assert.ok(!(await packInstalled(two, 'notes')).equals(first), 'another content, other bytes');
  } finally {
    await removeTemp(work);
  }
});
