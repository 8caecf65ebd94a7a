import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanEnv, daemonArgs, makeTemp, removeTemp } from '../helpers/daemon.js';

let root: string;

before(async () => {
  root = await makeTemp();
});

after(async () => {
  await removeTemp(root);
});

/** A loopback port nothing listens on (taken and given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('SIGTERM while the manager waits for its database stops it cleanly, lock released', async () => {
  const data = join(root, 'data');
  const url = `postgres://appvisor:not-shown-7c1f@127.0.0.1:${await closedPort()}/postgres`;
  const child = spawn(process.execPath, daemonArgs(data, ['--set', `database.url=${url}`]), {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let said = '';
  child.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('DATABASE_UNAVAILABLE')) resolve();
      });
      void exited.then(() => {
        reject(new Error(`the manager exited before it waited:\n${said}`));
      });
    });
    // It holds the data folder while it waits.
    assert.ok(existsSync(join(data, 'manager.pid')), 'the lock is taken');
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.equal(signal, null, `ended by ${signal ?? ''} (the signal's default), not by itself`);
    assert.equal(code, 0, said);
    assert.match(said, /SIGTERM before the manager was ready: stopping/);
    assert.ok(!existsSync(join(data, 'manager.pid')), 'the lock is released');
    assert.ok(!said.includes('not-shown-7c1f'), 'the password is not shown');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
