/**
 * The manager runs as root and works in folders an app's user can write (its data folder, its
 * instance folders, its socket folder). A hostile app plants symbolic links there, or swaps a
 * folder for one while the manager works, to make root change, read, write or remove a file
 * it chose. Each test performs one such attack with a real package and checks that the link's
 * target is left as it was.
 */
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BackupEntry } from '../../src/api/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import {
  cli,
  eventually,
  instanceView,
  makeTemp,
  removeTemp,
  waitForApp,
  waitForInstance,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;

/**
 * A service that, when it starts, replaces the entries named in `attack.json` (in its data
 * folder) with links to the given targets, and with `watch`, keeps replacing any new entry
 * whose name starts with a prefix (a restore's staging folder, say) by a link.
 */
const hostileService = `
const fs = require('node:fs');
const path = require('node:path');
const data = process.env.APPVISOR_DATA_DIR;
let attack = {};
try { attack = JSON.parse(fs.readFileSync(path.join(data, 'attack.json'), 'utf8')); } catch {}
function plant(name, target) {
  const at = path.join(data, name);
  try { fs.renameSync(at, at + '.moved-' + process.pid); } catch {}
  fs.symlinkSync(target, at);
}
for (const [name, target] of Object.entries(attack.links || {})) plant(name, target);
if (attack.watch) {
  const seen = new Set();
  setInterval(() => {
    for (const name of fs.readdirSync(data)) {
      if (!name.startsWith(attack.watch.prefix) || name.includes('.moved-') || seen.has(name)) continue;
      seen.add(name);
      try { plant(name, attack.watch.target); } catch {}
    }
  }, 1);
}
if (attack.flip) {
  // Entries that keep turning from a file of 9 bytes into a link to the target and back.
  const { dir, target, count } = attack.flip;
  const until = Date.now() + 60000;
  const names = Array.from({ length: count }, (_, i) => path.join(data, dir, 'flip' + i));
  const step = () => {
    for (const name of names) {
      try {
        fs.symlinkSync(target, name + '.l');
        fs.renameSync(name + '.l', name);
        fs.writeFileSync(name + '.f', 'xxxxxxxxx');
        fs.renameSync(name + '.f', name);
      } catch {}
    }
    if (Date.now() < until) setImmediate(step);
  };
  step();
}
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
  else if (m.type === 'instance.stop') process.send({ type: 'instance.stopped', id: m.id });
  else if (m.type === 'shutdown') process.exit(0);
});
process.send({ type: 'ready', httpSocket: null });
`;

/** What a root-owned target looks like, to compare before and after. */
async function snapshot(path: string): Promise<string> {
  const info = await lstat(path);
  const parts = [`${info.uid}:${info.gid}:${(info.mode & 0o7777).toString(8)}`];
  if (info.isDirectory()) {
    for (const name of (await readdir(path)).sort())
      parts.push(`${name}=${await snapshot(join(path, name))}`);
  } else if (info.isFile()) {
    parts.push(await readFile(path, 'utf8'));
  }
  return parts.join('|');
}

describe('root never follows an app’s links', { skip: !isRoot }, () => {
  const running = withDaemon();
  let work: string;
  let appFolder: string;

  const run = (...args: string[]) => cli([...args, '--data', running.daemon.data]);
  const appData = () => join(running.daemon.data, 'appdata', 'hostile');

  /** A root-owned folder (0755) outside the data folder, holding a root-only file. */
  async function rootFolder(name: string): Promise<string> {
    const folder = join(work, name);
    await mkdir(folder, { mode: 0o755 });
    await chmod(folder, 0o755);
    await writeFile(join(folder, 'secret'), `root only ${name}\n`, { mode: 0o600 });
    return folder;
  }

  /** Writes the attack for the next start, restarts the app and waits until it is ready. */
  async function attackOnRestart(attack: object): Promise<void> {
    await writeFile(join(appData(), 'attack.json'), JSON.stringify(attack), { mode: 0o644 });
    const restarted = await run('app', 'restart', 'hostile');
    assert.equal(restarted.code, 0, restarted.stderr);
    await waitForApp(running.daemon, 'hostile');
  }

  async function createInstance(id: string): Promise<void> {
    const created = await run('instance', 'create', 'hostile', id, '--domain', 'example.com');
    assert.equal(created.code, 0, created.stderr);
    await waitForInstance(running.daemon, id);
  }

  before(async () => {
    work = await makeTemp();
    appFolder = await makeAppFolder(work, 'hostile', {
      run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.cjs"',
      manifest: { version: '1.0.0', instances: true },
      files: { 'main.cjs': hostileService },
    });
    const installed = await run('app', 'install', appFolder, '--autostart');
    assert.equal(installed.code, 0, installed.stderr);
    await waitForApp(running.daemon, 'hostile');
  });

  after(async () => {
    if (work) await removeTemp(work);
  });

  test('an instance folder swapped for a link: its target keeps its owner and mode when the service becomes ready', async () => {
    const daemon: Daemon = running.daemon;
    await createInstance('swapped');
    const target = await rootFolder('cron');
    const before = await snapshot(target);
    await attackOnRestart({ links: { swapped: target } });
    const settled = await eventually(
      async () => {
        const view = await instanceView(daemon, 'swapped');
        return view.state === 'failed' || view.state === 'ready' ? view : undefined;
      },
      15_000,
      'the instance settled',
    );
    const info = await stat(target);
    assert.equal(info.uid, 0, 'the target still belongs to root');
    assert.equal(info.mode & 0o777, 0o755, 'the target keeps its mode');
    assert.equal(await snapshot(target), before);
    assert.equal(settled.state, 'failed');
    assert.match(settled.error ?? '', /not a folder/);
  });

  test('a backup of an instance whose folder is a link, or holds links, never holds what they point to', async () => {
    await createInstance('leaky');
    await createInstance('leaky2');
    const target = await rootFolder('private');
    const file = join(await rootFolder('shadow'), 'secret');
    await attackOnRestart({ links: { leaky: target, 'leaky2/passwd': file } });
    for (const id of ['leaky', 'leaky2']) {
      const made = await run('backup', 'create', id, '--json');
      if (made.code === 0) {
        const entry = JSON.parse(made.stdout) as BackupEntry;
        const raw = await readFile(join(running.daemon.data, 'backups', entry.file));
        assert.ok(!raw.includes('root only'), `the backup of ${id} holds no outside file`);
      } else {
        assert.match(made.stderr, /not a folder/);
      }
    }
    // Files swapped for links while the backup reads them: never read through the link.
    await attackOnRestart({ flip: { dir: 'leaky2', target: file, count: 50 } });
    for (let i = 0; i < 3; i++) {
      const made = await run('backup', 'create', 'leaky2', '--json');
      if (made.code !== 0) continue;
      const entry = JSON.parse(made.stdout) as BackupEntry;
      const raw = await readFile(join(running.daemon.data, 'backups', entry.file));
      assert.ok(!raw.includes('root only'), 'no backup holds the outside file');
    }
  });

  test('a restore whose staging folder the app swaps for a link writes nothing through it', async () => {
    await attackOnRestart({});
    await createInstance('restored');
    await writeFile(join(appData(), 'restored', 'kept.txt'), 'restored content\n');
    const made = await run('backup', 'create', 'restored', '--json');
    assert.equal(made.code, 0, made.stderr);
    const entry = JSON.parse(made.stdout) as BackupEntry;
    const target = await rootFolder('spool');
    const before = await snapshot(target);
    await attackOnRestart({ watch: { prefix: '.', target } });
    await run('backup', 'restore', entry.file, '--into', 'restored');
    assert.equal(await snapshot(target), before, 'nothing was written, chowned or chmodded there');
    const view = await waitForInstance(running.daemon, 'restored');
    assert.equal(await readFile(join(view.dataDir, 'kept.txt'), 'utf8'), 'restored content\n');
  });

  test('delete, purge and uninstall remove planted links, never what they point to', async () => {
    await attackOnRestart({});
    await createInstance('doomed');
    const target = await rootFolder('etc');
    const before = await snapshot(target);
    const owner = await stat(join(appData(), 'doomed'));
    await mkdir(join(appData(), 'doomed', 'sub'));
    await chown(join(appData(), 'doomed', 'sub'), owner.uid, owner.gid);
    await attackOnRestart({
      links: { 'doomed/link': target, 'doomed/sub/link': target, junk: target },
    });
    const deleted = await run('instance', 'delete', 'doomed', '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(await snapshot(target), before);
    // Instances whose folder is a link: the link goes, the folder it points to stays.
    const earlier = ['cron', 'private', 'shadow'].map((name) => join(work, name));
    const whole = await Promise.all(earlier.map(snapshot));
    for (const id of ['swapped', 'leaky', 'leaky2', 'restored']) {
      const gone = await run('instance', 'delete', id, '--yes');
      assert.equal(gone.code, 0, gone.stderr);
    }
    assert.deepEqual(await Promise.all(earlier.map(snapshot)), whole);

    await createInstance('kept');
    await attackOnRestart({ links: { junk: target, 'kept/link': target } });
    const purged = await run('app', 'install', appFolder, '--autostart', '--purge');
    assert.equal(purged.code, 0, purged.stderr);
    await assert.rejects(lstat(join(appData(), 'junk')), { code: 'ENOENT' });
    assert.equal(await snapshot(target), before);

    await waitForApp(running.daemon, 'hostile');
    await attackOnRestart({ links: { junk: target, 'kept/link': target } });
    const removed = await run('app', 'uninstall', 'hostile', '--force');
    assert.equal(removed.code, 0, removed.stderr);
    await assert.rejects(lstat(appData()), { code: 'ENOENT' });
    assert.equal(await snapshot(target), before);
  });
});
