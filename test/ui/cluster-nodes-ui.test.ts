/**
 * The Overview of a node of a cluster shows the platform's nodes (docs/cluster.md): two nodes
 * on one PostgreSQL, then one of them killed, seen going down in the other's page.
 */
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import { TestCluster } from '../helpers/cluster.js';
import type { NodesReport } from '../../src/api/index.js';
import { cliOk, type Daemon } from '../helpers/daemon.js';

describeInBrowser('the nodes of a cluster in the admin UI', (openPage) => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let page: Page;

  before(async () => {
    cluster = await TestCluster.create();
    [a, b] = (await cluster.startAll(['a', 'b'])) as [Daemon, Daemon];
    page = await openPage(30_000);
    await logIn(page, a, a.password!);
  });

  after(async () => {
    await cluster.destroy();
  });

  test('both nodes are listed up, this one marked; a killed one turns down', async () => {
    const card = page.getByTestId('nodes-card');
    await card.getByRole('heading', { name: 'Nodes of cluster lab' }).waitFor();
    const rows = card.getByTestId('nodes').locator('tbody tr');
    await rows.nth(1).waitFor();
    await card.locator('tbody tr[data-state="up"]').nth(1).waitFor();
    await card.getByText('(this node)').waitFor();
    // Each node's load from its latest sample, and the platform's totals below.
    await card.getByRole('columnheader', { name: 'CPU' }).waitFor();
    await card
      .getByTestId('platform-totals')
      .getByText(/2 of 2 nodes up/)
      .waitFor();
    await card.locator('tbody tr td[data-label="Memory"]', { hasText: /GiB/ }).nth(1).waitFor();
    const bAddress = `127.0.0.1:${new URL(b.httpUrl).port}`;
    b.child.kill('SIGKILL');
    await b.exited;
    const row = card.locator('tbody tr', { hasText: bAddress });
    await row.and(page.locator('[data-state="down"]')).waitFor({ timeout: 20_000 });
  });

  test("the Alarms page lists the platform's alarms, each with its node", async () => {
    await page.getByRole('link', { name: 'Alarms', exact: true }).first().click();
    const active = page.getByTestId('active-alarms');
    await active.getByRole('columnheader', { name: 'Node' }).waitFor();
    // A alone saw B go down: the node-down alarm is A's.
    const aId = (JSON.parse(await cliOk(a, 'node', '--json')) as NodesReport).self;
    const alarm = active.locator('tbody tr', { hasText: 'node-down' });
    await alarm.locator('td[data-label="Node"]', { hasText: aId }).waitFor({ timeout: 20_000 });
  });
});
