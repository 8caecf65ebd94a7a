/**
 * The Overview of a node of a cluster shows the platform's nodes (docs/cluster.md): two nodes
 * on one PostgreSQL, then one of them killed, seen going down in the other's page.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import {
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  stopQuietly,
  type Daemon,
} from '../helpers/daemon.js';
import { ExternalServer } from '../helpers/external-server.js';

describeInBrowser('the nodes of a cluster in the admin UI', (openPage) => {
  let root: string;
  let server: ExternalServer;
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  let page: Page;

  before(async () => {
    root = await makeTemp();
    server = await ExternalServer.create(root);
    const url = await server.makeOperatorRole();
    const args = [
      '--set',
      `database.url=${url}`,
      '--set',
      'cluster.name=lab',
      '--set',
      'cluster.host=127.0.0.1',
      '--set',
      'cluster.leaseSeconds=2',
    ];
    a = await startDaemon({ data: join(root, 'a'), args });
    await mkdir(join(root, 'b'), { mode: 0o700 });
    await copyFile(join(a.data, 'secret.key'), join(root, 'b', 'secret.key'));
    b = await startDaemon({ data: join(root, 'b'), args });
    page = await openPage(30_000);
    await logIn(page, a, a.password!);
  });

  after(async () => {
    await stopQuietly(a);
    await stopQuietly(b);
    for (const name of ['a', 'b']) await killAll(join(root, name));
    await server.stop('fast');
    await removeTemp(root);
  });

  test('both nodes are listed up, this one marked; a killed one turns down', async () => {
    const card = page.getByTestId('nodes-card');
    await card.getByRole('heading', { name: 'Nodes of cluster lab' }).waitFor();
    const rows = card.getByTestId('nodes').locator('tbody tr');
    await rows.nth(1).waitFor();
    await card.locator('tbody tr[data-state="up"]').nth(1).waitFor();
    await card.getByText('(this node)').waitFor();
    const bAddress = `127.0.0.1:${new URL(b!.httpUrl).port}`;
    b!.child.kill('SIGKILL');
    await b!.exited;
    const row = card.locator('tbody tr', { hasText: bAddress });
    await row.and(page.locator('[data-state="down"]')).waitFor({ timeout: 20_000 });
  });
});
