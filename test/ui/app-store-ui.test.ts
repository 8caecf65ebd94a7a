/**
 * The App store page end to end: a real daemon, a real browser, and a store served by a static
 * HTTP server from this test (packages built and signed with `appvisor store build`). Add the
 * store, install, update, downgrade, see failures, as an administrator does.
 * Skipped, saying why, only when no browser can be had.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  buildStoreFolder,
  makeStorePackage,
  StaticStore,
  storeKeygen,
} from '../helpers/app-store.js';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import { appStatus, makeTemp, withDaemon } from '../helpers/daemon.js';

describeInBrowser('the App store page in a browser', (openPage) => {
  const running = withDaemon({
    args: ['--set', 'apps.stopGraceSeconds=2', '--set', 'appstore.updateTimeoutSeconds=6'],
  });
  let page: Page;
  let storeDir: string;
  let key: string;
  let publicKey: string;
  let server: StaticStore;

  const publish = async (
    version: string,
    build: number,
    options: { label?: string; script?: string } = {},
  ) => {
    const file = `hello-${version}.tar.gz`;
    await makeStorePackage(
      join(storeDir, file),
      'hello',
      {
        version,
        build,
        title: 'Hello',
        description: 'Says hello, quietly',
        restart: { delaySeconds: 0.3, maxDelaySeconds: 1 },
        ...(options.label ? { label: options.label } : {}),
      },
      options.script ? { script: options.script } : {},
    );
    await buildStoreFolder(storeDir, key);
    return file;
  };

  before(async () => {
    const work = await makeTemp();
    storeDir = join(work, 'store');
    await mkdir(storeDir);
    key = join(work, 'store.key');
    publicKey = await storeKeygen(key);
    await publish('1.0.0', 1, { label: 'beta' });
    server = new StaticStore(storeDir);
    await server.start();
    page = await openPage(60_000);
    await logIn(page, running.daemon, running.daemon.password!);
  });
  after(async () => {
    await server.close();
  });

  const appRow = () => page.locator('tr[data-store-app="hello"]');
  const cell = (label: string) => appRow().locator(`td[data-label="${label}"]`);
  const notice = () => page.locator('.notice');

  test('a wrong public key is refused at the keys field, nothing added', async () => {
    await page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'App store', exact: true })
      .click();
    await page.getByRole('heading', { name: 'App store', exact: true }).waitFor();
    await page.getByText('No app store is configured yet').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('main');
    await page.getByLabel('URL', { exact: true }).fill(server.url());
    await page.getByLabel('Public keys').fill('not-a-key');
    await page.getByRole('button', { name: 'Add store' }).click();
    await page.locator('#store-keys-error').getByText('Ed25519 public key').waitFor();
    assert.equal(await page.getByLabel('Public keys').getAttribute('aria-invalid'), 'true');
    // Neither the name nor the URL is blamed.
    assert.equal(await page.locator('#store-name-error, #store-url-error').count(), 0);
    assert.equal(await page.locator('tr[data-store]').count(), 0);
  });

  test('add the store with its key: it is listed, and so is its app with its label', async () => {
    await page.getByLabel('Public keys').fill(publicKey);
    await page.getByRole('button', { name: 'Add store' }).click();
    await notice().getByText('App store main added.').waitFor();
    const store = page.locator('tr[data-store="main"]');
    assert.equal(await store.locator('td[data-label="URL"]').textContent(), server.url());
    assert.equal(await store.locator('td[data-label="Keys"]').textContent(), '1');
    assert.equal(await store.locator('td[data-label="Unsigned"]').textContent(), 'refused');

    await appRow().waitFor();
    assert.match((await appRow().locator('th').textContent()) ?? '', /^Hello/);
    assert.equal(await cell('Description').textContent(), 'Says hello, quietly');
    await cell('Latest').locator('.badge', { hasText: 'beta' }).waitFor();
    await cell('Latest').locator('.badge', { hasText: 'signed' }).waitFor();
    assert.match((await cell('Latest').textContent()) ?? '', /^1\.0\.0/);
    assert.equal(await cell('Installed').textContent(), 'no');
  });

  test('install it: the download shows its progress, then it is installed and running', async () => {
    // Sent in two halves a second apart, so that the progress can be seen.
    server.faults.set('hello-1.0.0.tar.gz', 'slow');
    assert.equal(await appRow().getByLabel('Start it now and with the manager').isChecked(), true);
    await appRow().getByRole('button', { name: 'Install' }).click();
    await page
      .getByTestId('store-progress')
      .getByText(/Installing hello 1\.0\.0: Downloading \d+ B of \d+ B \(\d+%\)/)
      .waitFor();
    await notice()
      .getByText(/^hello 1\.0\.0 \(build 1\) installed: /)
      .waitFor();
    assert.equal(await page.getByTestId('store-progress').count(), 0);
    server.faults.clear();
    await cell('Installed').getByText('1.0.0').waitFor();
    assert.equal(await appRow().getByRole('button', { name: 'Installed' }).isDisabled(), true);
    const status = await appStatus(running.daemon, 'hello');
    assert.equal(status.version, '1.0.0');
    assert.equal(status.autostart, true);
  });

  test('a newer build: the check finds it, the row says so, Update installs it', async () => {
    await publish('1.1.0', 2);
    await page.getByRole('button', { name: 'Check for updates' }).click();
    await page
      .getByTestId('last-check')
      .getByText(/Last checked .*: 1 update available/)
      .waitFor();
    await cell('Installed').locator('.badge', { hasText: 'update available' }).waitFor();
    assert.match((await cell('Latest').textContent()) ?? '', /^1\.1\.0 final/);
    assert.match((await appRow().getAttribute('class')) ?? '', /highlight/);

    await appRow().getByRole('button', { name: 'Update to 1.1.0' }).click();
    await notice()
      .getByText(/^hello 1\.1\.0 \(build 2\) installed, was 1\.0\.0: /)
      .waitFor();
    await cell('Installed').getByText('1.1.0').waitFor();
    assert.equal(await cell('Installed').locator('.badge').count(), 0);
    assert.equal((await appStatus(running.daemon, 'hello')).version, '1.1.0');
  });

  test('an older version from the picker asks first, then downgrades', async () => {
    await appRow().getByLabel('Version of hello').selectOption({ label: '1.0.0 (build 1, beta)' });
    await appRow().getByRole('button', { name: 'Downgrade to 1.0.0' }).click();
    const dialog = page.getByRole('dialog', { name: 'Downgrade hello to 1.0.0?' });
    await dialog.waitFor();
    // Escape cancels: nothing changes.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await appStatus(running.daemon, 'hello')).version, '1.1.0');

    await appRow().getByRole('button', { name: 'Downgrade to 1.0.0' }).click();
    await dialog.getByRole('button', { name: 'Downgrade' }).click();
    await notice()
      .getByText(/^hello 1\.0\.0 \(build 1\) installed, was 1\.1\.0: /)
      .waitFor();
    await cell('Installed').getByText('1.0.0').waitFor();
    await cell('Installed').locator('.badge', { hasText: 'update available' }).waitFor();
    assert.equal((await appStatus(running.daemon, 'hello')).version, '1.0.0');
  });

  test('a package that does not match its digest: the failure shows its code, nothing changes', async () => {
    const file = await publish('1.2.0', 3);
    const path = join(storeDir, file);
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(path, bytes);
    await page.reload();
    await appRow().getByRole('button', { name: 'Update to 1.2.0' }).click();
    await page
      .locator('.notice.bad')
      .getByText('Updating hello failed: PACKAGE_DIGEST_MISMATCH')
      .waitFor();
    await cell('Installed').getByText('1.0.0').waitFor();
    assert.equal((await appStatus(running.daemon, 'hello')).version, '1.0.0');
    // Taken off the store: a store build refuses a damaged package.
    await rm(path);
  });

  test('an update that does not start is rolled back, and the page says so', async () => {
    await publish('1.3.0', 4, { script: '#!/bin/sh\necho broken; exit 3\n' });
    await page.reload();
    await appRow().getByRole('button', { name: 'Update to 1.3.0' }).click();
    // The update fails as soon as the new version ends: its progress may show only for a
    // moment, so the test waits for the outcome.
    const failure = page.locator('.notice.bad');
    await failure
      .getByText('The update of hello failed and was rolled back', { exact: false })
      .waitFor();
    assert.match((await failure.textContent()) ?? '', /UPDATE_FAILED/);
    assert.match((await failure.textContent()) ?? '', /rolled back to 1\.0\.0/);
    await cell('Installed').getByText('1.0.0').waitFor();
    assert.equal((await appStatus(running.daemon, 'hello')).version, '1.0.0');
  });

  test('a store that cannot be read is a warning naming it; removing it asks first', async () => {
    server.faults.set('down.json', 500);
    await page.getByLabel('Name', { exact: true }).fill('down');
    await page.getByLabel('URL', { exact: true }).fill(server.url('down.json'));
    await page.getByLabel('Allow unsigned packages').check();
    await page.getByRole('note').getByText('whoever can change the store').waitFor();
    await page.getByRole('button', { name: 'Add store' }).click();
    await notice().getByText('App store down added.').waitFor();
    const store = page.locator('tr[data-store="down"]');
    assert.equal(await store.locator('td[data-label="Keys"]').textContent(), '0');
    assert.equal(await store.locator('td[data-label="Unsigned"]').textContent(), 'allowed');
    const problems = page.getByTestId('store-problems');
    await problems.getByText('down: APPSTORE_UNREACHABLE').waitFor();
    assert.match((await problems.textContent()) ?? '', /HTTP 500/);
    // The other store's app is still listed.
    await appRow().waitFor();

    await page.getByRole('button', { name: 'Remove down' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove the app store down?' });
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await notice().getByText('App store down removed.').waitFor();
    await store.waitFor({ state: 'detached' });
    assert.equal(await problems.count(), 0);
    assert.equal(await page.locator('tr[data-store="main"]').count(), 1);
  });

  test('the overview links to the page when the last check found updates', async () => {
    await page.getByRole('button', { name: 'Check for updates' }).click();
    await page.getByTestId('last-check').getByText('1 update available').waitFor();
    await page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'Overview', exact: true })
      .click();
    await page
      .getByTestId('updates-available')
      .getByText('1 app update available', { exact: true })
      .click();
    await page.getByRole('heading', { name: 'App store', exact: true }).waitFor();
    await appRow().waitFor();
  });

  test('at 360 px the page fits the width', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    await appRow().getByRole('button', { name: 'Update to 1.3.0' }).waitFor();
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.equal(overflow, 0, 'no sideways scrolling');
  });
});
