import assert from 'node:assert/strict';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StatusReport } from '../../src/api/index.js';
import { http, killAll, makeTemp, removeTemp, startDaemon } from '../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;

describe(
  'a data folder the postgres user cannot enter (root only)',
  { skip: !isRoot && 'runs only as root' },
  () => {
    let root: string;

    before(async () => {
      root = await makeTemp();
    });

    after(async () => {
      await killAll(root);
      await removeTemp(root);
    });

    test('keeps the cluster in the fallback folder, and finds it there again', async () => {
      // A checkout in a private home folder: /root is 0700.
      const home = join(root, 'home');
      await mkdir(home, { mode: 0o700 });
      await chmod(home, 0o700);
      const data = join(home, 'data');
      const fallback = join(root, 'var-lib-appvisor');
      const args = ['--set', `database.fallbackDir=${fallback}`];

      const first = await startDaemon({ data, args });
      const status = (await http('GET', { socket: first.socket }, '/manager/api/v1/status'))
        .body as StatusReport;
      assert.equal(status.database.state, 'running');
      assert.equal(status.database.cluster, join(fallback, status.manager.nodeId, 'pg'));
      await assert.rejects(stat(join(data, 'pg', 'PG_VERSION')), 'no cluster in the data folder');
      const password = first.password!;
      assert.equal((await first.stop()).code, 0);

      const second = await startDaemon({ data, args });
      assert.equal(second.password, undefined, 'the same store: no new one-time password');
      const login = await http('POST', { url: second.adminUrl }, '/manager/api/v1/auth/login', {
        body: { password },
      });
      assert.equal(login.status, 200, login.text);
      assert.equal((await second.stop()).code, 0);
    });
  },
);
