import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AppStatus, InstanceView } from '../../src/api/index.js';
import { connectAs, credentials, storeClient } from '../helpers/database.js';
import { makeAppFolder } from '../helpers/apps.js';
import {
  cli,
  eventually,
  http,
  makeTemp,
  removeTemp,
  repoRoot,
  withDaemon,
  type Daemon,
} from '../helpers/daemon.js';

const echo = join(repoRoot, 'examples', 'echo');

async function run(daemon: Daemon, ...args: string[]) {
  const result = await cli([...args, '--data', daemon.data]);
  return result;
}

async function appStatus(daemon: Daemon, id: string): Promise<AppStatus> {
  return (await http('GET', { socket: daemon.socket }, `/manager/api/v1/apps/${id}`))
    .body as AppStatus;
}

async function instance(daemon: Daemon, id: string): Promise<InstanceView> {
  return (await http('GET', { socket: daemon.socket }, `/manager/api/v1/instances/${id}`))
    .body as InstanceView;
}

async function waitReady(daemon: Daemon, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    await eventually(
      async () => ((await instance(daemon, id)).state === 'ready' ? true : undefined),
      30_000,
      `${id} ready`,
    );
  }
}

/** One HTTP request to an instance through its service's own socket (the front comes later). */
async function count(daemon: Daemon, id: string, method = 'POST'): Promise<number> {
  const socket = (await appStatus(daemon, 'echo')).httpSocket;
  assert.ok(socket, 'the service reported its HTTP socket');
  const view = await instance(daemon, id);
  const answer = await httpWithHeader(socket, method, `${view.path}/count`, {
    'x-appvisor-instance': id,
  });
  assert.equal(answer.status, 200, answer.text);
  return (JSON.parse(answer.text) as { count: number }).count;
}

async function httpWithHeader(
  socket: string,
  method: string,
  path: string,
  headers: Record<string, string>,
) {
  const { request } = await import('node:http');
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ socketPath: socket, path, method, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, text });
      });
    });
    req.once('error', reject);
    req.end();
  });
}

describe('instances of the echo service', () => {
  const running = withDaemon();

  before(async () => {
    const { daemon } = running;
    const install = await run(daemon, 'app', 'install', echo, '--autostart');
    assert.equal(install.code, 0, install.stderr);
    await eventually(
      async () => ((await appStatus(daemon, 'echo')).state === 'running' ? true : undefined),
      30_000,
      'echo running',
    );
  });

  test('two instances, each counting in its own database', async () => {
    const { daemon } = running;
    const a = await run(
      daemon,
      'instance',
      'create',
      'echo',
      'alpha',
      '--domain',
      'example.com',
      '--json',
    );
    assert.equal(a.code, 0, a.stderr);
    const view = JSON.parse(a.stdout) as InstanceView;
    assert.equal(view.path, '/example.com/alpha');
    assert.equal(view.password, undefined, 'no secret in the answer');
    assert.equal(
      (await run(daemon, 'instance', 'create', 'echo', 'beta', '--domain', 'example.org')).code,
      0,
    );
    await waitReady(daemon, 'alpha', 'beta');
    assert.equal(await count(daemon, 'alpha'), 1);
    assert.equal(await count(daemon, 'alpha'), 2);
    assert.equal(await count(daemon, 'beta'), 1);
    assert.equal(await count(daemon, 'alpha', 'GET'), 2);
    const folder = await stat(join(daemon.data, 'appdata', 'echo', 'alpha'));
    assert.equal(folder.mode & 0o777, 0o700);
  });

  test('with --json a failure is {error: {code, message}} on stdout too; the exit code stays 1', async () => {
    const { daemon } = running;
    for (const [args, code] of [
      [['app', 'status', 'nosuchapp'], 'APP_NOT_FOUND'],
      [['instance', 'show', 'nobody'], 'INSTANCE_NOT_FOUND'],
      [['instance', 'create', 'echo', 'alpha'], 'INSTANCE_EXISTS'],
      [['backup', 'create', 'nobody'], 'INSTANCE_NOT_FOUND'],
    ] as const) {
      const failed = await run(daemon, '--json', ...args);
      assert.equal(failed.code, 1, args.join(' '));
      const document = JSON.parse(failed.stdout) as { error: { code: string; message: string } };
      assert.equal(document.error.code, code, failed.stdout);
      assert.equal(failed.stderr, `error ${code}: ${document.error.message}\n`);
    }
  });

  test('instance login without --challenge says how to get one; an unknown instance is not found', async () => {
    const { daemon } = running;
    const explained = await run(daemon, 'instance', 'login', 'alpha');
    assert.equal(explained.code, 1);
    assert.equal(explained.stdout, '');
    assert.match(
      explained.stderr,
      /^error BAD_REQUEST: instance login needs --challenge C: open a WebSocket to wss:\/\/\S+\/example\.com\/alpha, send \{"mt":"AppChallenge"\}, run appvisor instance login alpha --challenge C with the challenge of its AppChallengeResult, and send the AppLogin it prints/,
    );
    const unknown = await run(daemon, 'instance', 'login', 'nobody');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error INSTANCE_NOT_FOUND: /);
    // With a challenge it signs, as before.
    const signed = await run(daemon, 'instance', 'login', 'alpha', '--challenge', 'abc', '--json');
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal((JSON.parse(signed.stdout) as { login: { mt: string } }).login.mt, 'AppLogin');
  });

  test('appvisor disk alone shows the disk report, as GET /disk answers it', async () => {
    const { daemon } = running;
    const shown = await run(daemon, 'disk');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      new RegExp(`^path +${daemon.data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`),
    );
    assert.match(shown.stdout, /\nfree +[\d.]+ \S+ of [\d.]+ \S+\n/);
    assert.match(shown.stdout, /\nreserve +/);
    assert.match(shown.stdout, /\nlow below +[\d.]+ \S+/);
    const json = await run(daemon, 'disk', '--json');
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    const answered = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/disk'))
      .body as Record<string, unknown>;
    assert.deepEqual(Object.keys(report).sort(), Object.keys(answered).sort());
    assert.equal(report.path, daemon.data);
    assert.equal(typeof report.freeBytes, 'number');
  });

  test("an instance's role reaches its own database only", async () => {
    const { daemon } = running;
    const alpha = await credentials(daemon, 'alpha');
    const own = await connectAs(alpha, alpha.user);
    await assert.rejects(
      own.query('CREATE DATABASE sneaky'),
      (error: { code?: string }) => error.code === '42501',
    );
    await own.end();
    const beta = await credentials(daemon, 'beta');
    for (const database of [beta.user, 'appvisor', 'postgres']) {
      await assert.rejects(connectAs(alpha, database), (error: { code?: string }) => {
        assert.equal(error.code, '42501', `${database}: ${JSON.stringify(error)}`);
        return true;
      });
    }
  });

  test('the instance password is shown only when asked, and never logged', async () => {
    const { daemon } = running;
    const plain = await run(daemon, 'instance', 'show', 'alpha', '--json');
    assert.equal((JSON.parse(plain.stdout) as InstanceView).password, undefined);
    const revealed = await run(daemon, 'instance', 'show', 'alpha', '--reveal-password', '--json');
    const password = (JSON.parse(revealed.stdout) as InstanceView).password!;
    assert.ok(password.length >= 22, 'at least 128 bits');
    for (const file of ['manager.log', 'echo.log']) {
      const log = await readFile(join(daemon.data, 'logs', file), 'utf8');
      assert.ok(!log.includes(password), `${file} does not contain the password`);
    }
  });

  test('trace flags reach the running instance without a restart', async () => {
    const { daemon } = running;
    const pid = (await appStatus(daemon, 'echo')).pid;
    const on = await run(daemon, 'instance', 'trace', 'alpha', '+app');
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /^app$/m);
    const n = await count(daemon, 'alpha');
    await eventually(
      async () => {
        const log = await readFile(join(daemon.data, 'logs', 'echo.log'), 'utf8');
        return log.includes(`[alpha] count ${n}`) ? true : undefined;
      },
      10_000,
      'the trace line',
    );
    await run(daemon, 'instance', 'trace', 'alpha', '-app');
    const m = await count(daemon, 'alpha');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const log = await readFile(join(daemon.data, 'logs', 'echo.log'), 'utf8');
    assert.ok(!log.includes(`[alpha] count ${m}`), 'no trace line once the flag is off');
    assert.equal((await appStatus(daemon, 'echo')).pid, pid, 'the service was not restarted');
    const unknown = await run(daemon, 'instance', 'trace', 'alpha', '+nonsense');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error INVALID_INSTANCE: unknown trace flag "nonsense"/);
    // What can be set is in the view, for clients (the UI's switches) to offer exactly that.
    const shown = await run(daemon, 'instance', 'show', 'alpha', '--json');
    const view = JSON.parse(shown.stdout) as InstanceView;
    assert.equal(view.traceFlagsAvailable.length, 21);
    assert.ok(view.traceFlagsAvailable.includes('webdav'));
    assert.ok(!view.traceFlagsAvailable.includes('nonsense'));
  });

  test('killing the service brings both instances back, ready, with their data', async () => {
    const { daemon } = running;
    const before = await count(daemon, 'alpha', 'GET');
    const pid = (await appStatus(daemon, 'echo')).pid!;
    process.kill(pid, 'SIGKILL');
    await eventually(
      async () => {
        const status = await appStatus(daemon, 'echo');
        return status.state === 'running' && status.pid !== pid ? true : undefined;
      },
      30_000,
      'echo restarted',
    );
    await waitReady(daemon, 'alpha', 'beta');
    assert.equal(await count(daemon, 'alpha'), before + 1);
    assert.equal(await count(daemon, 'beta', 'GET'), 1);
  });

  test('a taken id or path is refused and changes nothing', async () => {
    const { daemon } = running;
    const client = await storeClient(daemon, 'postgres');
    const databases = async () =>
      (await client.query('SELECT count(*)::int AS n FROM pg_database')).rows[0] as { n: number };
    const before = await databases();
    const taken = await run(daemon, 'instance', 'create', 'echo', 'alpha');
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^error INSTANCE_EXISTS: /);
    const path = await run(
      daemon,
      'instance',
      'create',
      'echo',
      'gamma',
      '--path',
      '/example.com/alpha',
    );
    assert.equal(path.code, 1);
    assert.match(path.stderr, /^error PATH_TAKEN: /);
    for (const [flag, value, pattern] of [
      ['--path', '/', /whole site/],
      ['--path', '/manager/x', /under \/manager/],
      ['--path', '/a/../b', /invalid segment/],
      ['--domain', 'not a domain', /not a valid domain/],
    ] as const) {
      const bad = await run(daemon, 'instance', 'create', 'echo', 'gamma', flag, value);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, pattern);
    }
    assert.deepEqual(await databases(), before);
    await client.end();
    const list = JSON.parse(
      (await run(daemon, 'instance', 'list', '--json')).stdout,
    ) as InstanceView[];
    assert.deepEqual(
      list.map((i) => i.id),
      ['alpha', 'beta'],
    );
    const noHost = await run(daemon, 'instance', 'create', 'nope', 'delta');
    assert.match(noHost.stderr, /^error APP_NOT_FOUND: /);
  });

  test('deleting an instance drops its database, role and folder', async () => {
    const { daemon } = running;
    const beta = await credentials(daemon, 'beta');
    const result = await run(daemon, 'instance', 'delete', 'beta', '--yes');
    assert.equal(result.code, 0, result.stderr);
    const client = await storeClient(daemon, 'postgres');
    assert.equal(
      (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [beta.user])).rowCount,
      0,
    );
    assert.equal(
      (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [beta.user])).rowCount,
      0,
    );
    await client.end();
    await assert.rejects(stat(join(daemon.data, 'appdata', 'echo', 'beta')));
    const missing = await run(daemon, 'instance', 'show', 'beta');
    assert.match(missing.stderr, /^error INSTANCE_NOT_FOUND: /);
    assert.equal(
      (await count(daemon, 'alpha', 'GET')) > 0,
      true,
      'the other instance is untouched',
    );
  });

  test('an app with instances is not uninstalled without --force', async () => {
    const { daemon } = running;
    const refused = await run(daemon, 'app', 'uninstall', 'echo');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error APP_HAS_INSTANCES: .*alpha/);
    const alpha = await credentials(daemon, 'alpha');
    const forced = await run(daemon, 'app', 'uninstall', 'echo', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    const client = await storeClient(daemon, 'postgres');
    assert.equal(
      (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [alpha.user])).rowCount,
      0,
    );
    await client.end();
  });
});

describe('kill -9 of the manager while an instance is being created', () => {
  let root: string;

  before(async () => {
    root = await makeTemp();
  });

  after(async () => {
    await removeTemp(root);
  });

  test('leaves, after a restart, either a complete instance or none', async () => {
    const { startDaemon, killAll } = await import('../helpers/daemon.js');
    const data = join(root, 'data');
    try {
      let daemon = await startDaemon({ data });
      assert.equal((await cli(['app', 'install', echo, '--autostart', '--data', data])).code, 0);
      for (const [i, delay] of [5, 40, 120, 300].entries()) {
        const id = `crash${i}`;
        const creating = cli(['instance', 'create', 'echo', id, '--data', data]);
        await new Promise((resolve) => setTimeout(resolve, delay));
        daemon.child.kill('SIGKILL');
        await daemon.exited;
        await creating;
        daemon = await startDaemon({ data });
        const answer = await http(
          'GET',
          { socket: daemon.socket },
          `/manager/api/v1/instances/${id}`,
        );
        const client = await storeClient(daemon, 'postgres');
        const dbs = (
          await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [`i_${id}`])
        ).rowCount;
        const roles = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [`i_${id}`]))
          .rowCount;
        await client.end();
        if (answer.status === 200) {
          assert.equal(dbs, 1, `${id}: a listed instance has its database`);
          assert.equal(roles, 1);
          await stat(join(data, 'appdata', 'echo', id));
          await waitReady(daemon, id);
        } else {
          assert.equal(answer.status, 404);
          assert.equal(dbs, 0, `${id}: no database without an instance`);
          assert.equal(roles, 0, `${id}: no role without an instance`);
        }
      }
      await daemon.stop();
    } finally {
      await killAll(data);
    }
  });
});

describe('a service that does not answer', () => {
  const running = withDaemon({ args: ['--set', 'instances.startTimeoutSeconds=1'] });

  test('gets its instance marked failed, with an event, instead of a hang', async () => {
    const { daemon } = running;
    const work = await makeTemp();
    try {
      // A service in plain Node.js, without the SDK: it says ready, then ignores instance.start.
      const folder = await makeAppFolder(work, 'mute', {
        run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.cjs"',
        manifest: { instances: true },
        files: {
          'main.cjs':
            "process.on('message', () => {});\nprocess.send({ type: 'ready', httpSocket: null });\n",
        },
      });
      assert.equal((await run(daemon, 'app', 'install', folder, '--autostart')).code, 0);
      await eventually(
        async () => ((await appStatus(daemon, 'mute')).state === 'running' ? true : undefined),
        30_000,
        'mute running',
      );
      const created = await run(daemon, 'instance', 'create', 'mute', 'silent');
      assert.equal(created.code, 0, created.stderr);
      const failed = await eventually(
        async () => {
          const view = await instance(daemon, 'silent');
          return view.state === 'failed' ? view : undefined;
        },
        10_000,
        'silent failed',
      );
      assert.match(failed.error ?? '', /did not answer within 1 s/);
      const events = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/events'))
        .body as { events: { kind: string; subject: string }[] };
      assert.ok(events.events.some((e) => e.kind === 'instance.failed' && e.subject === 'silent'));
      const plain = await run(daemon, 'instance', 'create', 'sample', 'x');
      assert.match(plain.stderr, /^error APP_NOT_FOUND: /);
    } finally {
      await removeTemp(work);
    }
  });

  test('an app that does not host instances refuses them', async () => {
    const { daemon } = running;
    const work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'plain', { run: 'sleep 1000' });
      await run(daemon, 'app', 'install', folder);
      const refused = await run(daemon, 'instance', 'create', 'plain', 'x');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error INSTANCES_UNSUPPORTED: /);
    } finally {
      await removeTemp(work);
    }
  });
});
