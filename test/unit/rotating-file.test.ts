import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RotatingFile, rotatedFiles } from '../../src/lib/rotating-file.js';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** A line of exactly `length` bytes whose content names its index, so order can be checked. */
function line(index: number, length: number): string {
  const head = `#${index}:`;
  return head + 'x'.repeat(length - head.length - 1) + '\n';
}

describe('RotatingFile', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'appvisor-rotating-'));
    path = join(dir, 'app.log');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writes appear on disk in order after flush()', async () => {
    const file = new RotatingFile({ path, maxBytes: 1_000_000, files: 2 });
    const written: string[] = [];
    for (let i = 0; i < 200; i++) {
      const chunk = `line ${i}\n`;
      written.push(chunk);
      assert.equal(file.write(i % 2 === 0 ? chunk : Buffer.from(chunk)), true);
    }
    await file.flush();
    assert.equal(await readFile(path, 'utf8'), written.join(''));
    await file.close();
  });

  test('keeps at most files × maxBytes on disk, newest data last, never a file beyond files-1', async () => {
    const maxBytes = 10_000;
    const files = 3;
    const lineLength = 777; // does not divide maxBytes: rotation happens before a file is full
    const file = new RotatingFile({ path, maxBytes, files });
    const all: string[] = [];
    let index = 0;
    let total = 0;
    while (total < 2 * 1024 * 1024) {
      // 100 kB per round, then check what is on disk
      for (let i = 0; i < 128; i++) {
        const chunk = line(index++, lineLength);
        all.push(chunk);
        total += chunk.length;
        assert.equal(file.write(chunk), true);
      }
      await file.flush();
      assert.equal(await exists(`${path}.3`), false, `${path}.3 must never be created`);
      let onDisk = 0;
      for (const name of [path, `${path}.1`, `${path}.2`]) {
        if (!(await exists(name))) continue;
        const size = await sizeOf(name);
        assert.ok(size <= maxBytes, `${name} is ${size} bytes, more than maxBytes`);
        onDisk += size;
      }
      assert.ok(onDisk <= files * maxBytes, `${onDisk} bytes on disk`);
    }
    await file.close();

    const kept = await rotatedFiles(path, files);
    assert.deepEqual(kept, [`${path}.2`, `${path}.1`, path]);
    const contents = await Promise.all(kept.map((name) => readFile(name, 'utf8')));
    const joined = contents.join('');
    // what is kept is the newest, contiguous tail of what was written, oldest file first
    assert.ok(joined.length > 0);
    assert.equal(joined, all.join('').slice(-joined.length));
    assert.ok(joined.endsWith(line(index - 1, lineLength)));
    // each file holds whole lines only (a line is never split across a rotation)
    for (const text of contents) assert.match(text, /^(#\d+:x+\n)+$/);
    // a rotated file was filled as far as whole lines allow: rotation never throws away more
    // than it must
    for (const text of contents.slice(0, -1)) {
      assert.ok(text.length > maxBytes - lineLength, `a rotated file holds only ${text.length}`);
    }
  });

  test('with files = 1 the single file is restarted instead of growing', async () => {
    const file = new RotatingFile({ path, maxBytes: 100, files: 1 });
    for (let i = 0; i < 10; i++) file.write(line(i, 30));
    await file.close();
    assert.equal(await exists(`${path}.1`), false);
    const text = await readFile(path, 'utf8');
    assert.ok(text.length <= 100);
    assert.ok(text.endsWith(line(9, 30)));
  });

  test('a single chunk larger than maxBytes is cut to maxBytes', async () => {
    const file = new RotatingFile({ path, maxBytes: 100, files: 2 });
    const big = 'a'.repeat(60) + 'b'.repeat(190);
    assert.equal(file.write(big), true);
    await file.close();
    assert.equal(await readFile(path, 'utf8'), big.slice(0, 100));
    assert.equal(await exists(`${path}.1`), false);
  });

  test('reopening continues the existing file and counts its size toward maxBytes', async () => {
    const old = 'o'.repeat(60);
    await writeFile(path, old);
    const file = new RotatingFile({ path, maxBytes: 100, files: 2 });
    file.write('n'.repeat(30));
    await file.flush();
    assert.equal(await readFile(path, 'utf8'), old + 'n'.repeat(30));
    assert.equal(await exists(`${path}.1`), false);

    // 60 + 30 + 30 > 100: the file must rotate now, not after another 100 bytes
    file.write('m'.repeat(30));
    await file.close();
    assert.equal(await readFile(`${path}.1`, 'utf8'), old + 'n'.repeat(30));
    assert.equal(await readFile(path, 'utf8'), 'm'.repeat(30));
  });

  test('close() is idempotent; later writes are refused and counted as dropped', async () => {
    const file = new RotatingFile({ path, maxBytes: 1000, files: 2 });
    file.write('before\n');
    await Promise.all([file.close(), file.close()]);
    await file.close();
    assert.equal(await readFile(path, 'utf8'), 'before\n');
    assert.equal(file.droppedBytes, 0);

    assert.equal(file.write('after\n'), false);
    assert.equal(file.write(Buffer.from('again')), false);
    assert.equal(file.droppedBytes, 'after\n'.length + 'again'.length);
    await file.flush();
    assert.equal(await readFile(path, 'utf8'), 'before\n');
  });

  test('close() waits for queued writes to reach the disk', async () => {
    const file = new RotatingFile({ path, maxBytes: 1_000_000, files: 2 });
    let expected = '';
    for (let i = 0; i < 500; i++) {
      const chunk = line(i, 50);
      expected += chunk;
      file.write(chunk);
    }
    await file.close();
    assert.equal(await readFile(path, 'utf8'), expected);
  });

  test('writes beyond maxQueuedBytes are dropped and counted, the rest kept in order', async () => {
    const file = new RotatingFile({ path, maxBytes: 1_000_000, files: 2, maxQueuedBytes: 1000 });
    const accepted: string[] = [];
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const chunk = line(i, 100);
      if (file.write(chunk)) accepted.push(chunk);
      else refused++;
    }
    assert.ok(refused > 0, 'a writer faster than the disk must be refused at some point');
    assert.ok(accepted.length >= 10, `only ${accepted.length} chunks accepted`);
    // the queue bound plus at most the batch already handed to the disk
    assert.ok(accepted.length * 100 <= 2 * 1000, `${accepted.length} chunks accepted`);
    assert.equal(file.droppedBytes, refused * 100);

    await file.flush();
    assert.equal(await readFile(path, 'utf8'), accepted.join(''));

    // once the queue has drained, writes are accepted again
    assert.equal(file.write('later\n'), true);
    await file.close();
    assert.equal(await readFile(path, 'utf8'), accepted.join('') + 'later\n');
    assert.equal(file.droppedBytes, refused * 100);
  });

  test('rejects options that cannot cap the size', () => {
    assert.throws(() => new RotatingFile({ path, maxBytes: 0, files: 2 }), RangeError);
    assert.throws(() => new RotatingFile({ path, maxBytes: 100, files: 0 }), RangeError);
  });
});
