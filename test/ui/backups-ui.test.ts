/**
 * The Backups page end to end: a real daemon with an echo instance, a real browser; back up,
 * restore, download and upload, encryption and the schedule as an administrator does them.
 * Skipped, saying why, only when no browser can be had.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import { installEcho, waitForApp, withDaemon } from '../helpers/daemon.js';

describeInBrowser('the Backups page in a browser', (openPage) => {
  const running = withDaemon();
  let page: Page;
  let plain = '';

  before(async () => {
    const { daemon } = running;
    await installEcho(daemon.data);
    await waitForApp(daemon, 'echo');
    // Backups and restores take seconds, more on a busy machine; UTC, so that the schedule's
    // next run reads the same everywhere.
    page = await openPage(90_000, { timezoneId: 'UTC' });
    await logIn(page, daemon, daemon.password!);
  });

  /** A section's link in the navigation (pages may link to sections too). */
  const section = (name: string) =>
    page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });
  const archiveRow = (file: string) => page.locator(`tr[data-file="${file}"]`);

  test('create an echo instance, then back it up from its page: the archive is listed', async () => {
    await section('Instances').click();
    await page.getByLabel('App', { exact: true }).selectOption('echo');
    await page.getByLabel('Instance id').fill('acme');
    await page.getByLabel('Domain (optional)').fill('example.com');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('tr[data-instance="acme"] .badge', { hasText: 'ready' }).waitFor();

    await page.locator('tr[data-instance="acme"]').getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('link', { name: 'Back up now' }).click();
    await page.getByRole('heading', { name: 'Backups', exact: true }).waitFor();
    // The instance comes preselected, and the list shows its archives only.
    await page.getByText('No archive of acme yet').waitFor();
    await page.locator('#backup-instance option[value="acme"]').waitFor({ state: 'attached' });
    assert.equal(await page.locator('#backup-instance').inputValue(), 'acme');
    assert.equal(await page.locator('#backups-filter').inputValue(), 'acme');

    await page.getByRole('button', { name: 'Back up now' }).click();
    const notice = page.getByText(/^acme backed up to echo\/acme-\d{8}-\d{6}\.tar/);
    await notice.waitFor();
    plain = /(echo\/acme-\d{8}-\d{6}\.tar)/.exec((await notice.textContent()) ?? '')![1]!;
    const row = archiveRow(plain);
    await row.waitFor();
    assert.equal(await row.locator('td[data-label="Instance"]').textContent(), 'acme');
    assert.match((await row.locator('td[data-label="App"]').textContent()) ?? '', /^echo/);
    assert.equal(await row.locator('td[data-label="Encrypted"]').textContent(), 'no');
    assert.match((await row.locator('td[data-label="Size"]').textContent()) ?? '', /KiB|MiB/);
  });

  test('a bad template is refused next to the template field', async () => {
    await page.getByLabel('Name template (optional)').fill('#A/#q.tar');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.locator('#backup-template-error').getByText('unknown "#q"').waitFor();
    assert.equal(
      await page.getByLabel('Name template (optional)').getAttribute('aria-invalid'),
      'true',
    );
    await page.getByLabel('Name template (optional)').fill('');
  });

  test('restore the archive as a new instance: it is listed and ready', async () => {
    await page.getByRole('button', { name: `Restore ${plain}` }).click();
    // The form takes the focus: its choices are a Tab away.
    await page.getByRole('heading', { name: `Restore ${plain}` }).waitFor();
    await page.getByLabel('as a new instance').check();
    await page.getByLabel('New instance id').fill('acme-copy');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByText(`${plain} restored as acme-copy.`).waitFor();
    await section('Instances').click();
    await page.locator('tr[data-instance="acme-copy"] .badge', { hasText: 'ready' }).waitFor();
    await page
      .locator('tr[data-instance="acme-copy"]')
      .getByText('/example.com/acme-copy')
      .waitFor();
  });

  test('restore into the live instance asks first, then replaces it', async () => {
    await section('Backups').click();
    await page.getByRole('button', { name: `Restore ${plain}` }).click();
    await page.getByLabel('into an existing instance').check();
    const into = page.locator('#restore-into');
    assert.deepEqual(await into.locator('option').allTextContents(), ['acme', 'acme-copy']);
    await into.selectOption('acme');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Replace the data of acme?' });
    await dialog.waitFor();
    // Escape cancels: nothing is restored.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await dialog.getByRole('button', { name: 'Replace' }).click();
    await page.getByText(`${plain} restored into acme.`).waitFor();
  });

  test('download an archive, upload it under another name, restore the upload', async () => {
    const { daemon } = running;
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    const original = await readFile(join(daemon.data, 'backups', plain));
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      archiveRow(plain)
        .getByRole('link', { name: `Download ${plain}` })
        .click(),
    ]);
    assert.equal(download.suggestedFilename(), plain.split('/').pop());
    const saved = await download.path();
    assert.equal(sha256(await readFile(saved)), sha256(original));

    await page.getByLabel('Archive', { exact: true }).setInputFiles(saved);
    await page.getByLabel('Name in the backup folder (optional)').fill('moved/acme.tar');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText(/^moved\/acme\.tar \(.*\) uploaded: a backup of acme\./).waitFor();
    await archiveRow('moved/acme.tar').waitFor();
    // The same name again: refused next to the name, the archive there unchanged.
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('#upload-name-error').getByText('exists already').waitFor();

    await page.getByRole('button', { name: 'Restore moved/acme.tar' }).click();
    await page.getByLabel('as a new instance').check();
    await page.getByLabel('New instance id').fill('acme-moved');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByText('moved/acme.tar restored as acme-moved.').waitFor();
  });

  test('an encrypted backup: a wrong passphrase is refused next to the passphrase', async () => {
    await page.locator('#backup-instance').selectOption('acme');
    await page.getByLabel('Name template (optional)').fill('secret/#I.tar');
    await page.getByLabel('Passphrase (optional)').fill('a long backup passphrase');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByText(/^acme backed up to secret\/acme\.tar/).waitFor();
    // Never shown again.
    assert.equal(await page.getByLabel('Passphrase (optional)').inputValue(), '');
    // Its manifest is encrypted too: it lists under "all" only.
    await page.locator('#backups-filter').selectOption('');
    const row = archiveRow('secret/acme.tar');
    await row.locator('.badge', { hasText: 'encrypted' }).waitFor();

    await row.getByRole('button', { name: 'Restore secret/acme.tar' }).click();
    await page.getByLabel('New instance id').fill('acme-secret');
    await page.getByLabel('Passphrase', { exact: true }).fill('not the passphrase');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.locator('#restore-passphrase-error').getByText('is wrong').waitFor();
    // Nothing half made is left.
    await section('Instances').click();
    await page.locator('tr[data-instance="acme-copy"]').waitFor();
    assert.equal(await page.locator('tr[data-instance="acme-secret"]').count(), 0);
  });

  test('the schedule: a bad cron is refused at its field, a good one shows the next run', async () => {
    await section('Backups').click();
    await page.getByTestId('next-run').getByText('Off.').waitFor();
    await page.getByRole('switch', { name: 'Scheduled backups' }).check();
    await page.getByLabel('When (cron, UTC)').fill('every day');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.locator('#schedule-cron-error').getByText('is not a cron expression').waitFor();

    await page.getByLabel('When (cron, UTC)').fill('30 4 * * *');
    await page.getByLabel('Slots').fill('5');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByText('Schedule saved.').waitFor();
    const next = page.getByTestId('next-run').locator('time');
    await next.waitFor();
    assert.match((await next.getAttribute('datetime')) ?? '', /T04:30:00/);
    assert.match((await next.textContent()) ?? '', /4:30:00/);
    assert.equal(await page.locator('#schedule-cron-error').count(), 0);
  });

  test('at 360 px the page fits the width', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    await archiveRow(plain).waitFor();
    // The page is as wide as the window: nothing scrolls sideways.
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.equal(overflow, 0, 'no sideways scrolling');
    const hidden = await page.evaluate(
      "document.querySelector('.top nav').scrollWidth - document.querySelector('.top nav').clientWidth",
    );
    assert.equal(hidden, 0, 'every section of the navigation shows');
  });
});
