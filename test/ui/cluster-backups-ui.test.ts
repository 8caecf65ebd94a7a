/**
 * The Backups page of a node of a cluster (docs/backups.md, "On a cluster"): it lists the
 * archives of every node's folder, each naming its node, and restores one of another node's
 * folder on that node.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BackupEntry, NodesReport } from '../../src/api/index.js';
import type { Page } from 'playwright-core';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import { echoOnNode, hostedBy, TestCluster } from '../helpers/cluster.js';
import { cliOk, type Daemon } from '../helpers/daemon.js';

describeInBrowser('backups of a cluster in the admin UI', (openPage) => {
  let cluster: TestCluster;
  let a: Daemon;
  let b: Daemon;
  let page: Page;
  let bId = '';
  let file = '';

  before(async () => {
    cluster = await TestCluster.create();
    [a, b] = (await cluster.startAll(['a', 'b'])) as [Daemon, Daemon];
    const ids = await cluster.withEcho([a, b]);
    bId = ids.get(b)!;
    assert.equal((JSON.parse(await cliOk(b, 'node', '--json')) as NodesReport).self, bId);
    await echoOnNode(a, 'far', bId);
    // Made by its owner, B, in B's backup folder.
    file = (JSON.parse(await cliOk(a, 'backup', 'create', 'far', '--json')) as BackupEntry).file;
    page = await openPage(60_000);
    await logIn(page, a, a.password!);
  });

  after(async () => {
    await cluster.destroy();
  });

  test("another node's archive is listed with its node and restored there", async () => {
    await page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'Backups', exact: true })
      .click();
    const row = page.locator(`tr[data-file="${file}"]`);
    await row.locator('td[data-label="Node"]', { hasText: bId }).waitFor();
    // Its bytes are on B: downloaded from B's UI, not here.
    await row.getByText('on another node').waitFor();
    assert.equal(await row.getByRole('link', { name: `Download ${file}` }).count(), 0);
    await row.getByRole('button', { name: `Restore ${file}` }).click();
    await page.getByLabel('as a new instance').check();
    await page.getByLabel('New instance id').fill('far-copy');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByText(`${file} restored as far-copy.`).waitFor();
    assert.ok((await hostedBy(b)).includes('far-copy'), 'made on the node holding the archive');
  });
});
