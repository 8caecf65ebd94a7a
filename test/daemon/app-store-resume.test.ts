/**
 * A manager killed (kill -9) while an app store update waits for the new version finishes the
 * update, or rolls it back, at its next start.
 */
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ActiveAlarm, StoreAppView, StoreOperation } from '../../src/api/index.js';
import {
  buildStoreFolder,
  makeStorePackage,
  StaticStore,
  startSignedStore,
} from '../helpers/app-store.js';
import {
  appStatus,
  cli,
  eventually,
  http,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  stopQuietly,
  type Daemon,
} from '../helpers/daemon.js';

describe('an update cut off by a kill of the manager', () => {
  let data: string;
  let work: string;
  let storeDir: string;
  let key: string;
  let server: StaticStore;
  let daemon: Daemon | undefined;

  const args = ['--set', 'appstore.updateTimeoutSeconds=6', '--set', 'apps.stopGraceSeconds=2'];
  const run = (...more: string[]) => cli([...more, '--data', data]);
  const get = async <T>(path: string): Promise<T> =>
    (await http('GET', { socket: daemon!.socket }, `/manager/api/v1${path}`)).body as T;

  /**
   * Starts `store update <app>` (or `command`) and kills the manager once it waits for the new
   * version.
   */
  const killWhileWaiting = async (app: string, command = ['store', 'update', app]) => {
    const update = run(...command);
    await eventually(
      async () => {
        const { operations } = await get<{ operations: StoreOperation[] }>('/store/operations');
        return operations.some((op) => op.app === app && op.phase === 'waiting') || undefined;
      },
      60_000,
      `${app} update waiting`,
    );
    daemon!.child.kill('SIGKILL');
    await daemon!.exited;
    await update;
  };

  /**
   * After the restart: the app at version 1 and running again, the alarm `update-failed`
   * raised (once the rollback is complete: the app has been waited for again), no kept package
   * left. The alarm.
   */
  const rolledBackAfterRestart = async (app: string): Promise<ActiveAlarm> => {
    await eventually(
      async () => {
        const status = await appStatus(daemon!, app);
        return status.version === '1' && status.state === 'running' ? status : undefined;
      },
      60_000,
      `${app} rolled back to 1 and running`,
    );
    const alarm = await eventually(
      async () =>
        (await get<{ alarms: ActiveAlarm[] }>('/alarms')).alarms.find(
          (a) => a.code === 'update-failed' && a.subject === app,
        ),
      30_000,
      'update-failed raised',
    );
    await eventually(
      async () =>
        (await readdir(join(data, 'apps'))).every((name) => !name.startsWith('.')) || undefined,
      10_000,
      'no kept package left',
    );
    return alarm;
  };

  before(async () => {
    data = await makeTemp();
    work = await makeTemp();
    const store = await startSignedStore(work);
    ({ folder: storeDir, key, server } = store);
    daemon = await startDaemon({ data, args });
    const added = await run('store', 'add', 'main', server.url(), '--key', store.publicKey);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await stopQuietly(daemon);
    await killAll(data);
    await server.close();
    await removeTemp(data);
    await removeTemp(work);
  });

  test('the new version does not get ready after the restart: rolled back', async () => {
    await makeStorePackage(join(storeDir, 'stuck-1.tar.gz'), 'stuck', { version: '1', build: 1 });
    await buildStoreFolder(storeDir, key);
    const installed = await run('store', 'install', 'stuck', '--autostart');
    assert.equal(installed.code, 0, installed.stderr);
    // A service that never says it is ready: the update waits for it.
    await makeStorePackage(join(storeDir, 'stuck-2.tar.gz'), 'stuck', {
      version: '2',
      build: 2,
      instances: true,
    });
    await buildStoreFolder(storeDir, key);
    await killWhileWaiting('stuck');

    daemon = await startDaemon({ data, args });
    const alarm = await rolledBackAfterRestart('stuck');
    assert.match(alarm.text, /after a restart of the manager.*rolled back to 1/);
  });

  test('an app install from a file cut off while it waits: rolled back at the restart', async () => {
    const v1 = await makeStorePackage(join(work, 'filed-1.tar.gz'), 'filed', { version: '1' });
    const installed = await run('app', 'install', v1, '--autostart');
    assert.equal(installed.code, 0, installed.stderr);
    // A service that never says it is ready: the install waits for it.
    const v2 = await makeStorePackage(join(work, 'filed-2.tar.gz'), 'filed', {
      version: '2',
      instances: true,
    });
    await killWhileWaiting('filed', ['app', 'install', v2]);

    daemon = await startDaemon({ data, args });
    const alarm = await rolledBackAfterRestart('filed');
    assert.match(alarm.text, /filed 2 did not get ready after a restart of the manager/);
  });

  test('the new version gets ready after the restart: the update is finished', async () => {
    const hold = join(work, 'hold');
    await writeFile(hold, '');
    await makeStorePackage(join(storeDir, 'late-1.tar.gz'), 'late', { version: '1', build: 1 });
    await buildStoreFolder(storeDir, key);
    const installed = await run('store', 'install', 'late', '--autostart');
    assert.equal(installed.code, 0, installed.stderr);
    // A service that says it is ready only once the hold file is gone.
    await makeStorePackage(
      join(storeDir, 'late-2.tar.gz'),
      'late',
      { version: '2', build: 2, instances: true },
      {
        script: '#!/bin/sh\nexec "${APPVISOR_NODE:-node}" "$APPVISOR_APP_DIR/main.mjs"\n',
        files: [
          {
            name: 'main.mjs',
            content: `import { existsSync } from 'node:fs';
while (existsSync(${JSON.stringify(hold)})) await new Promise((r) => setTimeout(r, 100));
const { createService } = await import(process.env.APPVISOR_SDK);
createService({ start() { return {}; } });
`,
          },
        ],
      },
    );
    await buildStoreFolder(storeDir, key);
    await killWhileWaiting('late');
    await rm(hold);

    daemon = await startDaemon({ data, args });
    await eventually(
      async () => {
        const shown = await get<StoreAppView>('/store/apps/late');
        return shown.installed?.store === 'main' && shown.installed.build === 2 ? true : undefined;
      },
      60_000,
      'the update to 2 recorded',
    );
    const status = await appStatus(daemon, 'late');
    assert.deepEqual([status.version, status.state], ['2', 'running']);
    // Finished means cleaned up: the kept previous version is gone by then.
    const finished = await eventually(
      async () =>
        (await get<{ operations: StoreOperation[] }>('/store/operations')).operations.find(
          (op) => op.app === 'late' && op.finishedAt !== null,
        ),
      30_000,
      'the resumed update finished',
    );
    assert.equal(finished.phase, 'done');
    assert.deepEqual(
      (await readdir(join(data, 'apps'))).filter((name) => name.startsWith('.')),
      [],
      'no kept package is left once the update is finished',
    );
    const { alarms } = await get<{ alarms: ActiveAlarm[] }>('/alarms');
    assert.ok(!alarms.some((a) => a.code === 'update-failed' && a.subject === 'late'));
  });
});
