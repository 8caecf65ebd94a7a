import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { AppStatus } from '../../src/api/index.js';
import {
  makeTarGz,
  makeZeroBombZip,
  makeZip,
  truncate,
  type ArchiveEntry,
} from '../helpers/archives.js';
import { cli, eventually, http, makeTemp, withDaemon, type Daemon } from '../helpers/daemon.js';

const runScript =
  "#!/bin/sh\ntrap 'exit 0' TERM\necho victim up\nwhile true; do sleep 0.2 & wait $!; done\n";

async function statusOf(daemon: Daemon, id: string): Promise<AppStatus> {
  return (await http('GET', { socket: daemon.socket }, `/manager/api/v1/apps/${id}`))
    .body as AppStatus;
}

/** Everything under a folder, with file contents, to prove nothing changed. */
async function snapshot(folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out.push(entry.isFile() ? `${path}=${await readFile(path, 'utf8')}` : path);
  }
  return out.sort();
}

describe('bad packages are refused and change nothing', () => {
  const running = withDaemon();
  let work: string;
  let pid: number;

  before(async () => {
    const { daemon } = running;
    work = await makeTemp();
    const good = join(work, 'good.zip');
    await makeZip(good, [
      { name: 'victim/', type: 'dir' },
      { name: 'victim/run', content: runScript, mode: 0o755 },
      { name: 'victim/app.json', content: JSON.stringify({ version: '1.0' }) },
    ]);
    const install = await cli(['app', 'install', good, '--autostart', '--data', daemon.data]);
    assert.equal(install.code, 0, install.stderr);
    const status = await eventually(async () => {
      const s = await statusOf(daemon, 'victim');
      return s.state === 'running' ? s : undefined;
    });
    pid = status.pid!;
  });

  const cases: {
    name: string;
    file: string;
    build: (path: string) => Promise<void>;
    args?: string[];
    error: RegExp;
  }[] = [
    {
      name: 'zip-slip ../x',
      file: 'slip.zip',
      build: (p) =>
        makeZip(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: 'victim/../x', content: 'escaped' },
        ]),
      error: /^error PACKAGE_INVALID: .*victim\/\.\.\/x/,
    },
    {
      name: 'an absolute path',
      file: 'absolute.tar.gz',
      build: (p) =>
        makeTarGz(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: '/etc/evil', content: 'x' },
        ]),
      error: /^error PACKAGE_INVALID: .*\/etc\/evil/,
    },
    {
      name: 'a symlink to /etc/passwd',
      file: 'link.tar.gz',
      build: (p) =>
        makeTarGz(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: 'victim/passwd', type: 'symlink', target: '/etc/passwd' },
        ]),
      error: /^error PACKAGE_INVALID: .*victim\/passwd/,
    },
    {
      name: 'two top folders',
      file: 'two.zip',
      build: (p) =>
        makeZip(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: 'other/run', content: runScript, mode: 0o755 },
        ]),
      error: /^error PACKAGE_INVALID: /,
    },
    {
      name: 'a top folder that is not the id given',
      file: 'wrong.zip',
      build: (p) => makeZip(p, [{ name: 'intruder/run', content: runScript, mode: 0o755 }]),
      args: ['--id', 'victim'],
      error: /^error PACKAGE_INVALID: .*intruder.*victim|victim.*intruder/,
    },
    {
      name: 'a 1 GB-of-zeros bomb',
      file: 'bomb.zip',
      build: (p) => makeZeroBombZip(p, 'victim', 1024 ** 3),
      error: /^error PACKAGE_INVALID: /,
    },
    {
      name: 'a truncated archive',
      file: 'truncated.tar.gz',
      build: async (p) => {
        const entries: ArchiveEntry[] = [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: 'victim/big', content: Buffer.alloc(200_000, 7) },
        ];
        await makeTarGz(p, entries);
        await truncate(p, 400);
      },
      error: /^error PACKAGE_INVALID: /,
    },
    {
      name: 'an id with a space',
      file: 'ok.zip',
      build: (p) => makeZip(p, [{ name: 'victim/run', content: runScript, mode: 0o755 }]),
      args: ['--id', 'bad id'],
      error: /^error INVALID_APP_ID: /,
    },
    {
      name: 'an id with a slash',
      file: 'ok2.zip',
      build: (p) => makeZip(p, [{ name: 'victim/run', content: runScript, mode: 0o755 }]),
      args: ['--id', 'a/b'],
      error: /^error INVALID_APP_ID: /,
    },
    {
      name: 'an app.json with an unknown key',
      file: 'manifest.zip',
      build: (p) =>
        makeZip(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: 'victim/app.json', content: '{"versoin": "2"}' },
        ]),
      error: /^error PACKAGE_INVALID: app\.json: .*versoin/,
    },
    {
      name: 'an app.json whose title or version carries terminal escapes',
      file: 'escapes.zip',
      build: (p) =>
        makeZip(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          {
            name: 'victim/app.json',
            content: JSON.stringify({ version: '2\u001b[2K\r1.0', title: 'ok\nappvisor: forged' }),
          },
        ]),
      error: /^error PACKAGE_INVALID: app\.json: .*control characters/,
    },
    {
      name: 'an app.json whose web.static folder is not in the package',
      file: 'no-static.zip',
      build: (p) =>
        makeZip(p, [
          { name: 'victim/run', content: runScript, mode: 0o755 },
          { name: 'victim/app.json', content: JSON.stringify({ web: { static: 'public' } }) },
          { name: 'victim/index.html', content: '<h1>beside the folder</h1>' },
        ]),
      error:
        /^error PACKAGE_INVALID: app\.json: web\.static: "public" is not a folder in the package/,
    },
    {
      name: 'a new app whose web.static names a file',
      file: 'static-file.zip',
      build: (p) =>
        makeZip(p, [
          { name: 'newcomer/run', content: runScript, mode: 0o755 },
          { name: 'newcomer/app.json', content: JSON.stringify({ web: { static: 'www' } }) },
          { name: 'newcomer/www', content: 'a file, not a folder' },
        ]),
      error: /^error PACKAGE_INVALID: app\.json: web\.static: "www" is not a folder/,
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const { daemon } = running;
      const before = await snapshot(daemon.data + '/apps');
      const path = join(work, c.file);
      await c.build(path);
      const began = Date.now();
      const result = await cli(['app', 'install', path, ...(c.args ?? []), '--data', daemon.data]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr.trim(), c.error);
      assert.ok(Date.now() - began < 20_000, 'refused quickly');
      assert.deepEqual(await snapshot(daemon.data + '/apps'), before, 'nothing changed on disk');
      const status = await statusOf(daemon, 'victim');
      assert.equal(status.state, 'running');
      assert.equal(status.pid, pid, 'the installed app kept running, untouched');
      assert.equal(status.version, '1.0');
      await assert.rejects(readFile(join(daemon.data, 'x')), 'nothing escaped');
    });
  }

  test('an upload that is not a package at all', async () => {
    const { daemon } = running;
    const answer = await http('POST', { socket: daemon.socket }, '/manager/api/v1/apps', {
      body: { not: 'a package' },
    });
    assert.equal(answer.status, 415);
    assert.equal((answer.body as { code: string }).code, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('concurrent installs of one app', () => {
  const running = withDaemon();

  test('are carried out one after the other, leaving one consistent version', async () => {
    const { daemon } = running;
    const work = await makeTemp();
    const versions = ['1', '2', '3', '4', '5'];
    const paths = await Promise.all(
      versions.map(async (version) => {
        const path = join(work, `v${version}.zip`);
        await makeZip(path, [
          { name: 'racer/run', content: runScript, mode: 0o755 },
          { name: 'racer/app.json', content: JSON.stringify({ version }) },
          { name: 'racer/version.txt', content: version },
        ]);
        return path;
      }),
    );
    const results = await Promise.all(
      paths.map((path) => cli(['app', 'install', path, '--autostart', '--data', daemon.data])),
    );
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const status = await eventually(async () => {
      const s = await statusOf(daemon, 'racer');
      return s.state === 'running' ? s : undefined;
    });
    const onDisk = await readFile(join(daemon.data, 'apps', 'racer', 'version.txt'), 'utf8');
    assert.equal(status.version, onDisk, 'status and folder agree');
    assert.deepEqual(
      (await readdir(join(daemon.data, 'apps'))).sort(),
      ['racer'],
      'no staging or old folders left',
    );
    const { findProcesses } = await import('../../src/lib/processes.js');
    assert.deepEqual(
      await findProcesses(join(daemon.data, 'apps', 'racer', 'run')),
      [status.pid],
      'exactly one process',
    );
  });
});
