import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { StatusReport } from '../../src/api/index.js';
import { EmbeddedPostgres } from '../../src/core/database/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { makeAppFolder, roleChanger } from '../helpers/apps.js';
import {
  cli,
  eventually,
  http,
  instanceView,
  killAll,
  login,
  makeTemp,
  processesOf,
  removeTemp,
  startDaemon,
  waitForApp,
  waitForInstance,
} from '../helpers/daemon.js';

describe('an external PostgreSQL server', () => {
  let root: string;
  let server: EmbeddedPostgres;
  let url: string;

  before(async () => {
    root = await makeTemp();
    // A server the manager does not run: started here, as an operator would run theirs.
    server = new EmbeddedPostgres({
      dataDir: join(root, 'server', 'pg'),
      socketDir: join(root, 'server', 'run'),
      binariesDir: join(root, 'server'),
      logFile: join(root, 'server', 'postgres.log'),
      port: 0,
      maxConnections: 500,
      startTimeoutMs: 60_000,
      managerUser:
        process.getuid?.() === 0 ? 'root' : (await import('node:os')).userInfo().username,
      isRoot: process.getuid?.() === 0,
      logger: createLogger({ level: 'silent', file: { write: () => undefined } }),
    });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(root, 'server'), { recursive: true, mode: 0o711 });
    await server.start();
    const admin = new pg.Client(server.adminConfig('postgres'));
    await admin.connect();
    await admin.query(
      "CREATE ROLE ext_admin LOGIN CREATEDB CREATEROLE PASSWORD 'ext-admin-password-1'",
    );
    await admin.end();
    url = `postgres://ext_admin:ext-admin-password-1@127.0.0.1:${server.info().port}/postgres`;
  });

  after(async () => {
    await server.close();
    await killAll(join(root, 'data'));
    await removeTemp(root);
  });

  test('is used instead of the embedded one, with a non-superuser admin role', async () => {
    const data = join(root, 'data');
    const daemon = await startDaemon({ data, args: ['--set', `database.url=${url}`] });
    try {
      const status = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/status'))
        .body as StatusReport;
      assert.equal(status.database.mode, 'external');
      assert.equal(status.database.state, 'running');
      assert.equal(status.database.pid, null);
      assert.equal(status.database.port, server.info().port);
      // The store works: a login writes a row.
      await login(daemon, daemon.password!);
      const text = JSON.stringify(status);
      assert.ok(!text.includes('ext-admin-password-1'), 'the database password is not shown');
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
    assert.deepEqual(await processesOf(data), [], 'no server was started in the data folder');
    const log = await readFile(join(data, 'logs', 'manager.log'), 'utf8');
    assert.ok(!log.includes('ext-admin-password-1'), 'the database password is never logged');
    assert.equal(server.state, 'running', 'the external server is left running');
  });

  test('backs up and restores an instance whose role changed its own password', async () => {
    const data = join(root, 'data');
    const daemon = await startDaemon({ data, args: ['--set', `database.url=${url}`] });
    const work = await makeTemp();
    const run = async (...args: string[]) => {
      const done = await cli([...args, '--data', data]);
      assert.equal(done.code, 0, `${args.join(' ')}: ${done.stderr}`);
      return done.stdout;
    };
    try {
      await run(
        'app',
        'install',
        await makeAppFolder(work, 'rolechanger', roleChanger),
        '--autostart',
      );
      await waitForApp(daemon, 'rolechanger');
      await run('instance', 'create', 'rolechanger', 'extvictim', '--domain', 'example.com');
      await waitForInstance(daemon, 'extvictim');
      const outcome = join((await instanceView(daemon, 'extvictim')).dataDir, 'alter.txt');
      assert.equal(
        await eventually(() => readFile(outcome, 'utf8').catch(() => undefined), 20_000, 'alter'),
        'altered',
      );
      const made = JSON.parse(await run('backup', 'create', 'extvictim', '--json')) as {
        file: string;
      };
      await run('backup', 'restore', made.file, '--into', 'extvictim');
      await waitForInstance(daemon, 'extvictim');
      await run('instance', 'delete', 'extvictim', '--yes');
      await run('app', 'uninstall', 'rolechanger');
    } finally {
      assert.equal((await daemon.stop()).code, 0);
      await removeTemp(work);
    }
  });
});
