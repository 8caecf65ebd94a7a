import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type {
  AlarmHistoryReport,
  AlarmsReport,
  DiskReport,
  InstanceView,
} from '../../src/api/index.js';
import type { AlarmNotification } from '../../src/core/alarms/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import { credentials } from '../helpers/database.js';
import {
  cli,
  echoWithInstance,
  eventually,
  killAll,
  makeTemp,
  startDaemon,
  stopQuietly,
  type Daemon,
} from '../helpers/daemon.js';

/** A local alarm receiver; `failing` requests are answered 500. */
class AlarmReceiver {
  readonly received: AlarmNotification[] = [];
  failing = 0;
  refused = 0;
  readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (this.failing > 0) {
          this.failing--;
          this.refused++;
          response.writeHead(500).end();
          return;
        }
        this.received.push(JSON.parse(Buffer.concat(chunks).toString()) as AlarmNotification);
        response.writeHead(204).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/alarm`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

async function json<T>(data: string, args: string[]): Promise<T> {
  const answer = await cli([...args, '--json', '--data', data]);
  assert.equal(answer.code, 0, answer.stderr);
  return JSON.parse(answer.stdout) as T;
}

function set(pairs: Record<string, string | number>): string[] {
  return Object.entries(pairs).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
}

describe('alarms', () => {
  test('a crash loop is sent to the alarm URL, raised and cleared, after the receiver failed', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    const receiver = new AlarmReceiver();
    const url = await receiver.listen();
    // The first notification is refused twice: it must come again, in order.
    receiver.failing = 2;
    let daemon: Daemon | undefined = await startDaemon({
      data,
      args: set({ 'alarms.url': url, 'alarms.retrySeconds': 0.2 }),
    });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await receiver.close();
    });
    const ok = join(work, 'ok');
    const folder = await makeAppFolder(work, 'crashy', {
      run: `if [ -f ${ok} ]; then trap 'exit 0' TERM; while true; do sleep 0.2 & wait $!; done; fi\nexit 1`,
      manifest: { restart: { delaySeconds: 0.05, maxDelaySeconds: 0.1, stableSeconds: 1 } },
    });
    assert.equal((await cli(['app', 'install', folder, '--autostart', '--data', data])).code, 0);

    const raised = await eventually(
      () =>
        Promise.resolve(
          receiver.received.find((n) => n.code === 'crash-loop' && n.event === 'raised'),
        ),
      30_000,
      'crash-loop raised at the alarm URL',
    );
    assert.equal(receiver.refused, 2);
    assert.equal(raised.subject, 'crashy');
    assert.equal(raised.severity, 'error');
    assert.ok(raised.node.id);
    const active = await json<AlarmsReport>(data, ['alarms']);
    assert.ok(active.alarms.some((a) => a.code === 'crash-loop' && a.subject === 'crashy'));
    const status = await cli(['status', '--data', data]);
    assert.match(status.stdout, /crash-loop crashy/);

    // It survives a restart of the manager.
    await stopQuietly(daemon);
    daemon = await startDaemon({ data, args: set({ 'alarms.url': url }) });
    const again = await json<AlarmsReport>(data, ['alarms']);
    const kept = again.alarms.find((a) => a.code === 'crash-loop' && a.subject === 'crashy');
    assert.ok(kept, 'the crash-loop alarm is still active after the restart');
    assert.equal(kept.since, active.alarms.find((a) => a.code === 'crash-loop')?.since);

    // A stable run clears it.
    await writeFile(ok, '');
    await eventually(
      () =>
        Promise.resolve(
          receiver.received.find((n) => n.code === 'crash-loop' && n.event === 'cleared'),
        ),
      30_000,
      'crash-loop cleared at the alarm URL',
    );
    const after = await json<AlarmsReport>(data, ['alarms']);
    assert.ok(!after.alarms.some((a) => a.code === 'crash-loop'));
    const history = await json<AlarmHistoryReport>(data, ['alarms', '--history']);
    const mine = history.history.filter((c) => c.code === 'crash-loop');
    assert.deepEqual(
      mine.map((c) => c.action),
      ['cleared', 'raised'],
    );
    const text = await cli(['alarms', '--history', '--data', data]);
    assert.match(text.stdout, /cleared\s+error\s+crash-loop\s+crashy/);
    await cli(['app', 'uninstall', 'crashy', '--data', data]);
  });

  test('disk-low and the reserve on a small tmpfs data folder', async (t) => {
    const data = await makeTemp();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=400m,mode=0711', 'tmpfs', data]);
    } catch {
      t.skip('mounting a tmpfs needs root: disk-low and the reserve are not tested');
      return;
    }
    const holder: { daemon?: Daemon } = {};
    t.after(async () => {
      await stopQuietly(holder.daemon);
      await killAll(data);
      execFileSync('umount', ['-l', data]);
    });
    const reserve = 40 * 1024 * 1024;
    holder.daemon = await startDaemon({
      data,
      args: set({
        'disk.reserveBytes': reserve,
        'disk.lowPercent': 10,
        'disk.checkSeconds': 0.5,
      }),
    });
    // The reserve is recreated with real blocks while there is space.
    const reservePath = join(data, 'reserve');
    await eventually(
      async () => {
        const s = await stat(reservePath);
        return s.blocks * 512 >= reserve ? s : undefined;
      },
      20_000,
      'the reserve file is created',
    );

    // Fill the disk until it is low.
    const fill = join(data, 'fill.bin');
    const fs = await statfs(data);
    const threshold = (fs.blocks * fs.bsize) / 10;
    const toFill = fs.bavail * fs.bsize - threshold / 2;
    await writeFile(fill, Buffer.alloc(Math.floor(toFill)));
    await eventually(
      async () =>
        (await json<AlarmsReport>(data, ['alarms'])).alarms.find((a) => a.code === 'disk-low'),
      20_000,
      'disk-low raised',
    );

    // The full disk: the manager still answers; releasing the reserve frees its space.
    const before = await statfs(data);
    const released = await json<DiskReport>(data, ['disk', 'release']);
    const afterRelease = await statfs(data);
    const freed = (afterRelease.bavail - before.bavail) * afterRelease.bsize;
    assert.ok(freed >= reserve * 0.9, `released ${freed} bytes`);
    assert.equal(released.reserveBytes, 0);
    assert.equal((await cli(['status', '--data', data])).code, 0);

    await rm(fill);
    await eventually(
      async () =>
        (await json<AlarmsReport>(data, ['alarms'])).alarms.some((a) => a.code === 'disk-low')
          ? undefined
          : true,
      20_000,
      'disk-low cleared',
    );
    const history = await json<AlarmHistoryReport>(data, ['alarms', '--history']);
    assert.deepEqual(
      history.history.filter((c) => c.code === 'disk-low').map((c) => c.action),
      ['cleared', 'raised'],
    );
  });

  test('the diagnostics archive holds the logs and no secret', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    const adminPassword = 'diagnostics-Admin-pass-1234';
    const smtpPassword = 'smtp-Secret-pass-98765';
    const daemon = await startDaemon({
      data,
      env: { APPVISOR_ADMIN_INITIAL_PASSWORD: adminPassword },
      args: set({ 'alarms.smtp.password': smtpPassword }),
    });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
    });
    await echoWithInstance(daemon, 'diag');
    const secrets = [adminPassword, smtpPassword];
    const shown = await json<InstanceView>(data, ['instance', 'show', 'diag', '--reveal-password']);
    assert.ok(shown.password);
    secrets.push(shown.password);
    const keyText = (await readFile(join(data, 'secret.key'), 'utf8')).trim();
    const key = Buffer.from(keyText, 'base64');
    secrets.push(keyText, key.toString('hex'));
    secrets.push((await credentials(daemon, 'diag')).password);

    const file = join(work, 'diag.tar.gz');
    const answer = await cli(['diagnostics', file, '--data', data]);
    assert.equal(answer.code, 0, answer.stderr);
    const out = join(work, 'out');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xzf', file, '-C', out]);
    const root = join(out, 'appvisor-diagnostics');
    const names = await readdir(root);
    for (const name of ['logs', 'status.json', 'settings.json', 'alarms.json', 'instances.json'])
      assert.ok(names.includes(name), `${name} in the archive`);
    assert.ok((await readdir(join(root, 'logs'))).includes('manager.log'));
    for (const secret of secrets.filter((s) => s.length >= 8)) {
      let found = '';
      try {
        found = execFileSync('grep', ['-rlF', secret, out]).toString();
      } catch {
        // grep exits 1 when nothing matches
      }
      assert.equal(found, '', `a secret appears in the archive: ${found}`);
    }
  });
});
