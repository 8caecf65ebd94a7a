import assert from 'node:assert/strict';
import { writeFile, stat, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { StatusReport } from '../../src/api/index.js';
import {
  cli,
  failingDaemon,
  http,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
} from '../helpers/daemon.js';

/** Exactly one line on stderr, naming the problem. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
}

describe('starts that cannot work exit 2 with one line and create nothing', () => {
  let root: string;

  before(async () => {
    root = await makeTemp();
  });

  after(async () => {
    await removeTemp(root);
  });

  test('a wrong type in a flag', async () => {
    const data = join(root, 'flag');
    const result = await failingDaemon(data, ['--set', 'database.maxConnections=abc']);
    assert.equal(result.code, 2);
    assertOneLine(
      result.stderr,
      /error CONFIG_INVALID: .*database\.maxConnections must be a number/,
    );
    await assert.rejects(stat(data), 'the data folder was not created');
  });

  test('an unknown key in the config file, and a file that is not JSON', async () => {
    const file = join(root, 'config.json');
    await writeFile(file, JSON.stringify({ http: { prot: 1 } }));
    const unknown = await failingDaemon(join(root, 'file'), ['--config', file]);
    assert.equal(unknown.code, 2);
    assertOneLine(
      unknown.stderr,
      /error CONFIG_INVALID: config file .*config\.json: unknown key http\.prot/,
    );

    await writeFile(file, '{ "http": ');
    const broken = await failingDaemon(join(root, 'file'), ['--config', file]);
    assert.equal(broken.code, 2);
    assertOneLine(broken.stderr, /error CONFIG_INVALID: config file .*not valid JSON/);
    await assert.rejects(stat(join(root, 'file')));
  });

  test('an unknown APPVISOR_ variable', async () => {
    const result = await failingDaemon(join(root, 'env'), [], { APPVISOR_HTTP_PROT: '1' });
    assert.equal(result.code, 2);
    assertOneLine(
      result.stderr,
      /error CONFIG_INVALID: environment: unknown variable APPVISOR_HTTP_PROT/,
    );
  });

  test('a port in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const data = join(root, 'port');
      const result = await failingDaemon(data, ['--http-port', String(port)]);
      assert.equal(result.code, 2);
      assertOneLine(
        result.stderr,
        new RegExp(`error PORT_IN_USE: the http port 127\\.0\\.0\\.1:${port} is already in use`),
      );
      await assert.rejects(stat(data), 'the data folder was not created');
    } finally {
      blocker.close();
    }
  });

  test('a data folder that cannot be made', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a folder');
    const result = await failingDaemon(join(file, 'data'));
    assert.equal(result.code, 2);
    assertOneLine(
      result.stderr,
      /error DATA_DIR_UNUSABLE: data folder .*a-file\/data cannot be used: a part of the path is a file/,
    );
  });

  test('a cluster folder that holds something else', async () => {
    const data = join(root, 'foreign');
    await mkdir(join(data, 'pg'), { recursive: true });
    await writeFile(join(data, 'pg', 'notes.txt'), 'mine');
    const result = await failingDaemon(data);
    assert.equal(result.code, 2);
    assertOneLine(
      result.stderr,
      /error DATA_DIR_UNUSABLE: .*pg is not empty but holds no PostgreSQL cluster/,
    );
    await stat(join(data, 'pg', 'notes.txt'));
  });
});

describe('a store written by a newer appvisor', () => {
  let data: string;

  before(async () => {
    data = await makeTemp();
  });

  after(async () => {
    await killAll(data);
    await removeTemp(data);
  });

  test('is refused with STORE_TOO_NEW and left as it is', async () => {
    const daemon = await startDaemon({ data });
    const status = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/status'))
      .body as StatusReport;
    // Peer login as the manager's OS user, as the manager itself connects.
    const client = new pg.Client({
      host: join(data, 'run', 'postgres'),
      port: status.database.port,
      user: 'postgres',
      database: 'appvisor',
    });
    await client.connect();
    await client.query(
      "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')",
    );
    await client.end();
    assert.equal((await daemon.stop()).code, 0);

    const result = await failingDaemon(data);
    assert.equal(result.code, 2, result.stderr);
    assertOneLine(result.stderr, /error STORE_TOO_NEW: the store is at schema version 9999/);
    // Nothing is left running after the refused start.
    const again = await failingDaemon(data);
    assert.match(again.stderr, /STORE_TOO_NEW/);
  });
});

describe('the CLI without a manager', () => {
  test('reports MANAGER_UNREACHABLE with exit 1', async () => {
    const data = await makeTemp();
    try {
      const result = await cli(['status', '--data', data]);
      assert.equal(result.code, 1);
      assertOneLine(
        result.stderr,
        /^error MANAGER_UNREACHABLE: no manager answers at .*manager\.sock/,
      );
    } finally {
      await removeTemp(data);
    }
  });

  test('usage errors exit 2', async () => {
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
    const option = await cli(['status', '--bogus']);
    assert.equal(option.code, 2);
    const set = await cli(['daemon', '--set', 'novalue']);
    assert.equal(set.code, 2);
    assert.match(set.stderr, /--set expects key=value/);
  });

  test('--help and --version exit 0', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /daemon/);
    assert.match(help.stdout, /status/);
    const version = await cli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });
});
