/**
 * An instance's data folder on a cluster (docs/cluster.md, "What moves and what does not"): a
 * node that takes an instance over from a lost node brings its folder from the newest backup
 * on the schedule's remote target; a move backs the instance up there first, so nothing of
 * its folder is lost on the way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ManagerEvent } from '../../src/api/index.js';
import { echoOnNode, hostedBy, TestCluster } from '../helpers/cluster.js';
import { cliOk, eventually, waitForInstance, type Daemon } from '../helpers/daemon.js';
import { startRemoteServer, type RemoteServer } from '../helpers/remote-servers.js';

const davUser = 'backup';
const davPassword = `pw-${randomBytes(16).toString('hex')}`;

describe("an instance's data folder follows it to another node", () => {
  let cluster: TestCluster;
  let dav: RemoteServer;
  let a: Daemon;
  let b: Daemon;
  let c: Daemon;
  let ids = new Map<Daemon, string>();

  const folderOn = (daemon: Daemon, id: string) => join(daemon.data, 'appdata', 'echo', id);
  const create = (id: string, on: Daemon) => echoOnNode(a, id, ids.get(on)!);
  const ownerOf = async (id: string, among: Daemon[]) => {
    for (const daemon of among) if ((await hostedBy(daemon)).includes(id)) return daemon;
    return undefined;
  };

  before(async () => {
    cluster = await TestCluster.create();
    const work = join(cluster.root, 'remote');
    await mkdir(join(work, 'dav', 'box'), { recursive: true });
    dav = await startRemoteServer('webdav', join(work, 'dav'), {
      REMOTE_USER: davUser,
      REMOTE_PASSWORD: davPassword,
    });
    [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [Daemon, Daemon, Daemon];
    ids = await cluster.withEcho([a, b, c]);
    const file = join(work, 'dav.pw');
    await writeFile(file, `${davPassword}\n`);
    await cliOk(
      a,
      'backup',
      'target',
      'add',
      'dav',
      `http://127.0.0.1:${dav.port}/box`,
      '--user',
      davUser,
      '--password-file',
      file,
    );
    // No cron: the schedule only names where backups go.
    await cliOk(a, 'backup', 'schedule', '--target', 'dav');
  });

  after(async () => {
    await dav.kill();
    await cluster.destroy();
  });

  test('a move backs the instance up first; its new node brings the folder from it', async () => {
    await create('moved', a);
    // An older backup is there already; the move makes a newer one, which C brings.
    await writeFile(join(folderOn(a, 'moved'), 'note.txt'), 'older\n');
    await cliOk(a, 'backup', 'create', 'moved', '--target', 'dav');
    const note = `moved ${randomBytes(4).toString('hex')}\n`;
    await writeFile(join(folderOn(a, 'moved'), 'note.txt'), note);
    await cliOk(b, 'instance', 'move', 'moved', '--node', ids.get(c)!);
    await waitForInstance(a, 'moved');
    assert.deepEqual(await hostedBy(c), ['moved']);
    assert.equal(await readFile(join(folderOn(c, 'moved'), 'note.txt'), 'utf8'), note);
    const archives = JSON.parse(await cliOk(b, 'backup', 'list', '--target', 'dav', '--json')) as {
      instance: string | null;
    }[];
    assert.equal(archives.filter((entry) => entry.instance === 'moved').length, 2);
  });

  test("a lost node's instance comes back elsewhere with the folder of its newest backup", async () => {
    await create('lost', b);
    const note = `lost ${randomBytes(4).toString('hex')}\n`;
    await writeFile(join(folderOn(b, 'lost'), 'note.txt'), note);
    await cliOk(a, 'backup', 'create', 'lost', '--target', 'dav');
    b.child.kill('SIGKILL');
    await b.exited;
    const owner = await eventually(() => ownerOf('lost', [a, c]), 30_000, 'lost taken over');
    await waitForInstance(owner, 'lost');
    assert.equal(await readFile(join(folderOn(owner, 'lost'), 'note.txt'), 'utf8'), note);
    const events = JSON.parse(await cliOk(owner, 'events', '--json')) as ManagerEvent[];
    assert.ok(
      events.some((e) => e.kind === 'instance.folder' && /restored from dav:/.test(e.text)),
      'the event names the archive',
    );
  });
});
