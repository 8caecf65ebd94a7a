import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type {
  AlarmHistoryReport,
  AlarmsReport,
  DiskReport,
  ErrorBody,
  InstanceView,
  PlatformSettings,
} from '../../src/api/index.js';
import type { AlarmNotification } from '../../src/core/alarms/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import { credentials } from '../helpers/database.js';
import {
  cli,
  echoWithInstance,
  eventually,
  http,
  login,
  killAll,
  makeTemp,
  mountTmpfs,
  startDaemon,
  stopQuietly,
  unmountTmpfs,
  type Daemon,
} from '../helpers/daemon.js';

/** A local alarm receiver; `failing` requests are answered 500. */
class AlarmReceiver {
  readonly received: AlarmNotification[] = [];
  /** The `authorization` header of each received notification ('' when none). */
  readonly authorizations: string[] = [];
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
        this.authorizations.push(request.headers.authorization ?? '');
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

/** The files under `folder` that hold `text`; empty when none. */
function grep(text: string, folder: string): string {
  try {
    return execFileSync('grep', ['-rlF', text, folder]).toString();
  } catch {
    return ''; // grep exits 1 when nothing matches
  }
}

/** Writes a diagnostics archive with the CLI and unpacks it; answers the folder it is in. */
async function diagnosticsIn(data: string, work: string): Promise<string> {
  const file = join(work, 'diag.tar.gz');
  const answer = await cli(['diagnostics', file, '--data', data]);
  assert.equal(answer.code, 0, answer.stderr);
  const out = join(work, 'out');
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xzf', file, '-C', out]);
  return out;
}

/** One e-mail as the local SMTP server received it. */
interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  body: string;
}

/** A local SMTP server that needs a login (over plain TCP, without STARTTLS). */
class MailReceiver {
  readonly received: ReceivedMail[] = [];
  readonly logins: string[] = [];
  readonly server: SMTPServer;

  constructor(user: string, password: string) {
    this.server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === user && auth.password === password) {
          this.logins.push(auth.username);
          callback(null, { user: auth.username });
        } else callback(new Error('invalid login'));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.received.push(parseMail(Buffer.concat(chunks).toString('utf8'), session));
          callback();
        });
      },
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(resolve);
    });
  }
}

/** The envelope, subject and plain-text body of a message (7bit or quoted-printable). */
function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  // Folded header lines go on with white space.
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(split + 4);
  const header = (name: string) =>
    new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  if (/quoted-printable/i.test(header('content-transfer-encoding'))) {
    body = Buffer.from(
      body
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  }
  return {
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    subject: header('subject'),
    body: body.replace(/\r\n/g, '\n'),
  };
}

async function json<T>(data: string, args: string[]): Promise<T> {
  const answer = await cli([...args, '--json', '--data', data]);
  assert.equal(answer.code, 0, answer.stderr);
  return JSON.parse(answer.stdout) as T;
}

function set(pairs: Record<string, string | number>): string[] {
  return Object.entries(pairs).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
}

/**
 * Installs an app that fails at once (a crash loop: `crash-loop` is raised within a second)
 * until `heal` is called; then a run lasts, which clears the alarm after a second.
 */
async function crashLoop(
  data: string,
  work: string,
  id = 'crashy',
): Promise<{ heal: () => Promise<void> }> {
  const ok = join(work, `${id}.ok`);
  const folder = await makeAppFolder(work, id, {
    run: `if [ -f ${ok} ]; then trap 'exit 0' TERM; while true; do sleep 0.2 & wait $!; done; fi\nexit 1`,
    manifest: { restart: { delaySeconds: 0.05, maxDelaySeconds: 0.1, stableSeconds: 1 } },
  });
  const installed = await cli(['app', 'install', folder, '--autostart', '--data', data]);
  assert.equal(installed.code, 0, installed.stderr);
  return { heal: () => writeFile(ok, '') };
}

/** The first notification `receiver` got that matches, waiting for it. */
function arrival(
  receiver: AlarmReceiver,
  match: Partial<AlarmNotification>,
  timeoutMs = 30_000,
): Promise<AlarmNotification> {
  const matches = (n: AlarmNotification) =>
    Object.entries(match).every(([key, value]) => n[key as keyof AlarmNotification] === value);
  return eventually(
    () => Promise.resolve(receiver.received.find(matches)),
    timeoutMs,
    `${JSON.stringify(match)} at the alarm receiver`,
  );
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
    const app = await crashLoop(data, work);

    const raised = await arrival(receiver, { code: 'crash-loop', event: 'raised' });
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
    await app.heal();
    await arrival(receiver, { code: 'crash-loop', event: 'cleared' });
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

  test('active alarms are sent again every period, and no more once cleared', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    const receiver = new AlarmReceiver();
    const url = await receiver.listen();
    // 0.02 minutes: every 1.2 s
    const daemon = await startDaemon({
      data,
      args: set({ 'alarms.url': url, 'alarms.resendMinutes': 0.02 }),
    });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await receiver.close();
    });
    const app = await crashLoop(data, work, 'again');
    const raised = await arrival(receiver, { code: 'crash-loop', event: 'raised' });
    const mine = () => receiver.received.filter((n) => n.code === 'crash-loop');
    await eventually(
      () => Promise.resolve(mine().filter((n) => n.event === 'active').length >= 2 || undefined),
      20_000,
      'the active alarm sent again twice',
    );
    const reminders = mine().filter((n) => n.event === 'active');
    for (const reminder of reminders) {
      assert.equal(reminder.subject, 'again');
      assert.equal(reminder.severity, 'error');
      // `since` is when it was raised; `at` when it was sent again.
      assert.equal(reminder.since, raised.since);
      assert.ok(reminder.at > raised.at, `${reminder.at} after ${raised.at}`);
    }
    const gap = Date.parse(reminders[1]!.at) - Date.parse(reminders[0]!.at);
    assert.ok(gap >= 1000 && gap < 5000, `sent again after ${gap} ms`);

    await app.heal();
    await arrival(receiver, { code: 'crash-loop', event: 'cleared' });
    // Three periods later: nothing more about it after the clear.
    await sleep(3600);
    const events = mine().map((n) => n.event);
    assert.equal(events.at(-1), 'cleared', events.join());
    assert.equal(events.indexOf('cleared'), events.length - 1);
    assert.equal(events[0], 'raised');
    await cli(['app', 'uninstall', 'again', '--data', data]);
  });

  test('the alarm URL setting sends the next notification to the new URL at once', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    const configured = new AlarmReceiver();
    const chosen = new AlarmReceiver();
    const configuredUrl = await configured.listen();
    const chosenUrl = `${(await chosen.listen()).replace('http://', 'http://ops:hook-Secret-42@')}?token=tok-Secret-43`;
    const daemon = await startDaemon({ data, args: set({ 'alarms.url': configuredUrl }) });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await configured.close();
      await chosen.close();
    });
    const shown = await cli(['settings', 'show', '--data', data]);
    assert.match(
      shown.stdout,
      new RegExp(`^alarm url\\s+${configuredUrl} \\(configuration\\)$`, 'm'),
    );

    const app = await crashLoop(data, work, 'moved');
    await arrival(configured, { code: 'crash-loop', event: 'raised' });

    const changed = await cli(['settings', 'set', '--alarm-url', chosenUrl, '--data', data]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(
      changed.stdout,
      /^alarm url\s+http:\/\/ops:hook-Secret-42@127\.0\.0\.1:\d+\/alarm\?token=tok-Secret-43$/m,
    );
    await app.heal();
    const cleared = await arrival(chosen, { code: 'crash-loop', event: 'cleared' });
    assert.equal(cleared.subject, 'moved');
    // The URL's user and password go as Basic authentication (fetch refuses them in URLs).
    assert.equal(
      chosen.authorizations[chosen.received.indexOf(cleared)],
      `Basic ${Buffer.from('ops:hook-Secret-42').toString('base64')}`,
    );
    assert.equal(configured.authorizations[0], '');
    assert.deepEqual(
      configured.received.filter((n) => n.code === 'crash-loop').map((n) => n.event),
      ['raised'],
    );

    // Refused: not http(s); nothing changes.
    const token = await login(daemon, daemon.password!);
    const bad = await http('PATCH', { url: daemon.adminUrl }, '/manager/api/v1/settings', {
      token,
      body: { alarmUrl: 'ftp://files.example.com/' },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as ErrorBody).code, 'SETTING_INVALID');
    assert.equal((bad.body as ErrorBody).field, 'alarmUrl');
    const refused = await cli([
      'settings',
      'set',
      '--alarm-url',
      'example.com/hook',
      '--data',
      data,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error SETTING_INVALID: /);
    const now = await json<PlatformSettings>(data, ['settings', 'show']);
    assert.equal(now.alarmUrl, chosenUrl);
    assert.equal(now.defaults.alarmUrl, configuredUrl);

    // The URL's credentials are in no log and not in the diagnostics archive.
    const out = await diagnosticsIn(data, work);
    const settings = JSON.parse(
      await readFile(join(out, 'appvisor-diagnostics', 'settings.json'), 'utf8'),
    ) as PlatformSettings;
    assert.match(
      settings.alarmUrl,
      /^http:\/\/\[removed\]@127\.0\.0\.1:\d+\/alarm\?token=\[removed\]$/,
    );
    for (const where of [out, join(data, 'logs')])
      for (const secret of ['hook-Secret-42', 'tok-Secret-43'])
        assert.equal(grep(secret, where), '', `${secret} in ${where}`);

    // Cleared: the configured URL again.
    const back = await json<PlatformSettings>(data, ['settings', 'set', '--alarm-url', '']);
    assert.equal(back.alarmUrl, '');
    await cli(['app', 'uninstall', 'moved', '--data', data]);
  });

  test('alarms arrive by e-mail over SMTP, to the recipient the setting names', async (t) => {
    const data = await makeTemp();
    const work = await makeTemp();
    const password = 'smtp-Login-pass-5150';
    const mail = new MailReceiver('alarms', password);
    const port = await mail.listen();
    const daemon = await startDaemon({
      data,
      args: set({
        'alarms.smtp.host': '127.0.0.1',
        'alarms.smtp.port': port,
        'alarms.smtp.user': 'alarms',
        'alarms.smtp.password': password,
        'alarms.smtp.from': 'appvisor@example.com',
        'alarms.smtp.to': 'ops@example.com',
      }),
    });
    t.after(async () => {
      await stopQuietly(daemon);
      await killAll(data);
      await mail.close();
    });
    assert.equal((await cli(['settings', 'set', '--label', 'North', '--data', data])).code, 0);
    const app = await crashLoop(data, work, 'mailed');
    const raised = await eventually(
      () => Promise.resolve(mail.received.find((m) => m.subject.includes('raised crash-loop'))),
      30_000,
      'the raise by e-mail',
    );
    assert.equal(raised.subject, '[appvisor North] raised crash-loop mailed (error)');
    assert.equal(raised.from, 'appvisor@example.com');
    assert.deepEqual(raised.to, ['ops@example.com']);
    assert.match(raised.body, /^mailed failed \d+ times within 10 minutes\n/);
    const body = JSON.parse(raised.body.slice(raised.body.indexOf('{'))) as AlarmNotification;
    assert.equal(body.event, 'raised');
    assert.equal(body.code, 'crash-loop');
    assert.equal(body.subject, 'mailed');
    assert.equal(body.node.label, 'North');
    assert.ok(mail.logins.length >= 1, 'the manager logged in');

    // Another recipient from now on.
    const changed = await json<PlatformSettings>(data, [
      'settings',
      'set',
      '--alarm-email',
      'oncall@example.org, lead@example.org',
    ]);
    assert.equal(changed.alarmEmail, 'oncall@example.org, lead@example.org');
    assert.equal(changed.defaults.alarmEmail, 'ops@example.com');
    await app.heal();
    const cleared = await eventually(
      () => Promise.resolve(mail.received.find((m) => m.subject.includes('cleared crash-loop'))),
      30_000,
      'the clear by e-mail',
    );
    assert.equal(cleared.subject, '[appvisor North] cleared crash-loop mailed (error)');
    assert.deepEqual(cleared.to, ['oncall@example.org', 'lead@example.org']);
    assert.match(cleared.body, /^mailed runs stably again\n/);
    const bad = await cli(['settings', 'set', '--alarm-email', 'not-an-address', '--data', data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /SETTING_INVALID/);
    assert.equal(grep(password, join(data, 'logs')), '');
    await cli(['app', 'uninstall', 'mailed', '--data', data]);
  });

  test('disk-low and the reserve on a small tmpfs data folder', async (t) => {
    const data = await makeTemp();
    if (!mountTmpfs(data, '400m')) {
      t.skip('mounting a tmpfs needs root: disk-low and the reserve are not tested');
      return;
    }
    const holder: { daemon?: Daemon } = {};
    t.after(async () => {
      await stopQuietly(holder.daemon);
      await killAll(data);
      await unmountTmpfs(data);
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

    const out = await diagnosticsIn(data, work);
    const root = join(out, 'appvisor-diagnostics');
    const names = await readdir(root);
    for (const name of ['logs', 'status.json', 'settings.json', 'alarms.json', 'instances.json'])
      assert.ok(names.includes(name), `${name} in the archive`);
    assert.ok((await readdir(join(root, 'logs'))).includes('manager.log'));
    for (const secret of secrets.filter((s) => s.length >= 8)) {
      const found = grep(secret, out);
      assert.equal(found, '', `a secret appears in the archive: ${found}`);
    }
  });
});
