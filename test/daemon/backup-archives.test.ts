/**
 * Archives off and onto the machine with the real daemon: `GET /backups/files/<name>` (whole,
 * single ranges, If-Range, the CLI's resume), `PUT /backups/files/<name>` (checked whole, never
 * over an archive, nothing left of a refused or cut-off one), and an uploaded archive restored
 * as a new instance with its data. Names that leave the backup folder and links planted in it
 * are refused.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { BackupEntry, ErrorBody } from '../../src/api/index.js';
import { markOf, setMark } from '../helpers/database.js';
import {
  api,
  cli,
  cliOk,
  echoWithInstance,
  eventually,
  makeTemp,
  waitForInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

const prefix = '/manager/api/v1';

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request over manager.sock with any path (sent as written) and headers. */
function raw(
  daemon: Daemon,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { socketPath: daemon.socket, path: `${prefix}${path}`, method, headers: options.headers },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (chunk: Buffer) => parts.push(chunk));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(parts),
          });
        });
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}

function put(daemon: Daemon, name: string, body: Buffer): Promise<RawAnswer> {
  return raw(daemon, 'PUT', `/backups/files/${name}`, {
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
}

/** Larger than any test machine's free space, so that smaller uploads meet the disk first. */
const maxUpload = 2 ** 52;

/** The answer to an upload announced with `length` bytes of which none are sent. */
function announce(daemon: Daemon, name: string, length: number): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: daemon.socket,
        path: `${prefix}/backups/files/${name}`,
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
      },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (chunk: Buffer) => parts.push(chunk));
        response.on('end', () => {
          req.destroy();
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(parts),
          });
        });
      },
    );
    req.once('error', reject);
    req.flushHeaders();
  });
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const codeOf = (answer: RawAnswer) => (JSON.parse(answer.body.toString()) as ErrorBody).code;

describe('backup archives: download and upload', () => {
  const running = withDaemon({ args: ['--set', `backup.maxUploadBytes=${maxUpload}`] });
  let backups: string;
  let archive: BackupEntry;
  let bytes: Buffer;
  let work: string;

  before(async () => {
    const { daemon } = running;
    backups = join(daemon.data, 'backups');
    work = await makeTemp('appvisor-archives-');
    await echoWithInstance(daemon, 'shop');
    await setMark(daemon, 'shop', 'moved with its archive');
    // Some incompressible bytes, so that ranges and an interrupted upload have room.
    await writeFile(join(daemon.data, 'appdata', 'echo', 'shop', 'bulk.bin'), randomBytes(600_000));
    const made = await api(daemon, 'POST', '/backups', { instance: 'shop' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    archive = made.body as BackupEntry;
    bytes = await readFile(join(backups, archive.file));
  });

  test('a download is the file: its bytes, length, name, validators', async () => {
    const got = await raw(running.daemon, 'GET', `/backups/files/${archive.file}`);
    assert.equal(got.status, 200, got.body.toString().slice(0, 200));
    assert.equal(sha256(got.body), sha256(bytes));
    assert.equal(got.headers['content-length'], String(bytes.length));
    assert.equal(got.headers['accept-ranges'], 'bytes');
    assert.match(got.headers['content-disposition'] ?? '', /^attachment; filename="shop-/);
    assert.match(got.headers.etag ?? '', /^"[0-9a-z-]+"$/);
    assert.ok(got.headers['last-modified']);
    const head = await raw(running.daemon, 'HEAD', `/backups/files/${archive.file}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(bytes.length));
    assert.equal(head.body.length, 0);
  });

  test('ranges: 206 with Content-Range, 416 outside the file, If-Range restarts a changed one', async () => {
    const { daemon } = running;
    const path = `/backups/files/${archive.file}`;
    const size = bytes.length;
    const etag = (await raw(daemon, 'HEAD', path)).headers.etag!;
    const middle = await raw(daemon, 'GET', path, { headers: { range: 'bytes=100-199' } });
    assert.equal(middle.status, 206);
    assert.equal(middle.headers['content-range'], `bytes 100-199/${size}`);
    assert.deepEqual(middle.body, bytes.subarray(100, 200));
    const tail = await raw(daemon, 'GET', path, { headers: { range: 'bytes=-10' } });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, bytes.subarray(size - 10));
    const rest = await raw(daemon, 'GET', path, {
      headers: { range: `bytes=${size - 5}-`, 'if-range': etag },
    });
    assert.equal(rest.status, 206);
    assert.deepEqual(rest.body, bytes.subarray(size - 5));
    const outside = await raw(daemon, 'GET', path, { headers: { range: `bytes=${size}-` } });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers['content-range'], `bytes */${size}`);
    assert.equal(codeOf(outside), 'RANGE_NOT_SATISFIABLE');
    const changed = await raw(daemon, 'GET', path, {
      headers: { range: 'bytes=100-', 'if-range': '"another-file"' },
    });
    assert.equal(changed.status, 200, 'a stale validator gets the whole file');
    assert.equal(sha256(changed.body), sha256(bytes));
  });

  test('the CLI resumes a partial download, and starts over when the archive changed', async () => {
    const { daemon } = running;
    const etag = (await raw(daemon, 'HEAD', `/backups/files/${archive.file}`)).headers.etag!;
    const target = join(work, 'resumed.tar');
    await writeFile(`${target}.part`, bytes.subarray(0, 1000));
    await writeFile(`${target}.part.etag`, `${etag}\n`);
    const resumed = JSON.parse(
      await cliOk(daemon, 'backup', 'download', archive.file, '-o', target, '--json'),
    ) as { resumedAt: number; size: number };
    assert.equal(resumed.resumedAt, 1000);
    assert.equal(sha256(await readFile(target)), sha256(bytes));
    await assert.rejects(stat(`${target}.part`));

    const stale = join(work, 'stale.tar');
    await writeFile(`${stale}.part`, randomBytes(1000));
    await writeFile(`${stale}.part.etag`, '"not-this-archive"\n');
    const restarted = JSON.parse(
      await cliOk(daemon, 'backup', 'download', archive.file, '-o', stale, '--json'),
    ) as { resumedAt: number };
    assert.equal(restarted.resumedAt, 0);
    assert.equal(sha256(await readFile(stale)), sha256(bytes));
  });

  test('names that leave the backup folder are refused', async () => {
    const { daemon } = running;
    await writeFile(join(daemon.data, 'outside.tar'), bytes);
    for (const path of [
      '/backups/files/../outside.tar',
      '/backups/files/%2e%2e/outside.tar',
      '/backups/files/echo/..%2f..%2foutside.tar',
      `/backups/files/${encodeURIComponent(join(daemon.data, 'outside.tar'))}`,
      '/backups/files/.work/x',
    ]) {
      const got = await raw(daemon, 'GET', path);
      assert.ok(got.status === 400 || got.status === 404, `${path}: ${got.status}`);
      assert.notEqual(sha256(got.body), sha256(bytes), `${path} served a file`);
      const sent = await put(daemon, path.slice('/backups/files/'.length), bytes);
      assert.ok(sent.status === 400 || sent.status === 404, `PUT ${path}: ${sent.status}`);
    }
    const names = await readdir(daemon.data);
    assert.deepEqual(
      names.filter((name) => name.endsWith('.tar')),
      ['outside.tar'],
    );
  });

  test('links in the backup folder are never followed, to read or to write', async () => {
    const { daemon } = running;
    const elsewhere = join(work, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'secret.tar'), bytes);
    await symlink(join(elsewhere, 'secret.tar'), join(backups, 'link.tar'));
    await symlink(elsewhere, join(backups, 'linked'));
    for (const name of ['link.tar', 'linked/secret.tar']) {
      const got = await raw(daemon, 'GET', `/backups/files/${name}`);
      assert.equal(got.status, 404, `${name}: ${got.status}`);
      assert.equal(codeOf(got), 'BACKUP_NOT_FOUND');
    }
    const sent = await put(daemon, 'linked/planted.tar', bytes);
    assert.equal(sent.status, 404, sent.body.toString());
    assert.deepEqual(await readdir(elsewhere), ['secret.tar']);
  });

  test('an uploaded archive is listed and restores as a new instance with its data', async () => {
    const { daemon } = running;
    const copy = join(work, 'from-another-platform.tar');
    await writeFile(copy, bytes);
    const uploaded = JSON.parse(
      await cliOk(daemon, 'backup', 'upload', copy, '--name', 'moved/shop.tar', '--json'),
    ) as BackupEntry;
    assert.equal(uploaded.file, 'moved/shop.tar');
    assert.equal(uploaded.instance, 'shop');
    assert.equal(uploaded.size, bytes.length);
    const listed = (await api(daemon, 'GET', '/backups')).body as { backups: BackupEntry[] };
    assert.ok(listed.backups.some((entry) => entry.file === 'moved/shop.tar'));
    await cliOk(daemon, 'backup', 'restore', 'moved/shop.tar', '--as', 'shop2');
    await waitForInstance(daemon, 'shop2');
    assert.deepEqual(await markOf(daemon, 'shop2'), {
      database: 'moved with its archive',
      folder: 'moved with its archive',
    });

    const again = await cli([
      'backup',
      'upload',
      copy,
      '--name',
      'moved/shop.tar',
      '--data',
      daemon.data,
    ]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /BACKUP_EXISTS/);
    assert.equal(sha256(await readFile(join(backups, 'moved', 'shop.tar'))), sha256(bytes));
  });

  test('a damaged or foreign upload is refused and not kept; so is one over the limits', async () => {
    const { daemon } = running;
    const damaged = Buffer.from(bytes);
    damaged[Math.floor(bytes.length / 2)] = damaged[Math.floor(bytes.length / 2)]! ^ 0xff;
    for (const [name, body] of [
      ['damaged.tar', damaged],
      ['cut.tar', bytes.subarray(0, bytes.length - 3000)],
      ['junk.tar', randomBytes(5000)],
      ['empty.tar', Buffer.alloc(0)],
    ] as const) {
      const sent = await put(daemon, name, body);
      assert.equal(sent.status, 400, `${name}: ${sent.body.toString()}`);
      assert.equal(codeOf(sent), 'BACKUP_INVALID', name);
      await assert.rejects(stat(join(backups, name)), `${name} is not kept`);
    }
    const tooLarge = await announce(daemon, 'huge.tar', maxUpload + 1);
    assert.equal(tooLarge.status, 413, tooLarge.body.toString());
    const noRoom = await announce(daemon, 'huge.tar', maxUpload / 2);
    assert.equal(noRoom.status, 507, noRoom.body.toString());
    assert.equal(codeOf(noRoom), 'DISK_FULL');
    const listed = (await api(daemon, 'GET', '/backups')).body as { backups: BackupEntry[] };
    assert.deepEqual(
      listed.backups.map((entry) => entry.file).filter((file) => !file.includes('shop')),
      [],
    );
    assert.deepEqual(await leftovers(backups), []);
  });

  test('an upload cut off midway leaves nothing behind', async () => {
    const { daemon } = running;
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        socketPath: daemon.socket,
        path: `${prefix}/backups/files/cut-off.tar`,
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(bytes.length),
        },
      });
      req.on('error', () => {
        resolve();
      });
      req.write(bytes.subarray(0, bytes.length / 2), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
    });
    await eventually(
      async () => ((await leftovers(backups)).length === 0 ? true : undefined),
      10_000,
    );
    await assert.rejects(stat(join(backups, 'cut-off.tar')));
  });

  test('an encrypted archive uploads (its layout checked) and restores with its passphrase', async () => {
    const { daemon } = running;
    const made = await api(daemon, 'POST', '/backups', {
      instance: 'shop',
      template: 'sealed/#I.tar',
      passphrase: 'a long upload passphrase',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const sealed = await readFile(join(backups, (made.body as BackupEntry).file));
    const cut = await put(daemon, 'sealed-cut.tar', sealed.subarray(0, sealed.length - 100));
    assert.equal(codeOf(cut), 'BACKUP_INVALID');
    const sent = await put(daemon, 'sealed-copy.tar', sealed);
    assert.equal(sent.status, 201, sent.body.toString());
    const entry = JSON.parse(sent.body.toString()) as BackupEntry;
    assert.equal(entry.encrypted, true);
    const restored = await api(daemon, 'POST', '/backups/restore', {
      archive: 'sealed-copy.tar',
      as: 'shop3',
      passphrase: 'a long upload passphrase',
    });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal((await markOf(daemon, 'shop3')).database, 'moved with its archive');
  });
});

/** Files an upload may leave in the work folder. */
async function leftovers(backups: string): Promise<string[]> {
  return (await readdir(join(backups, '.work')).catch(() => [] as string[])).filter((name) =>
    name.startsWith('upload-'),
  );
}
