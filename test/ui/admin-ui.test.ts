/**
 * The admin UI end to end: a real daemon, a real browser, what an administrator does and sees.
 * Skipped, saying why, only when no browser can be had.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { makeZip } from '../helpers/archives.js';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import { credentials } from '../helpers/database.js';
import {
  cli,
  eventually,
  installEcho,
  makeTemp,
  passwordOf,
  repoRoot,
  waitForApp,
  withDaemon,
} from '../helpers/daemon.js';

describeInBrowser('the admin UI in a browser', (openPage) => {
  const running = withDaemon({ args: ['--set', 'apps.stopGraceSeconds=2'] });
  let context: BrowserContext;
  let page: Page;
  let work: string;

  before(async () => {
    work = await makeTemp();
    page = await openPage(30_000);
    context = page.context();
  });

  const row = (name: string) => page.locator(`tr[data-app="${name}"]`);

  test('log in: a wrong password is refused at the field, the right one opens the overview', async () => {
    const { daemon } = running;
    await page.goto(`${daemon.adminUrl}/manager/`);
    await page.getByLabel('Admin password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#login-password-error').getByText('The password is wrong').waitFor();
    await logIn(page, daemon, daemon.password!);
    await page.getByText('No active alarms.').waitFor();
    await page.getByRole('heading', { name: 'Disk' }).waitFor();
    assert.equal(await page.getByTestId('apps-count').textContent(), '0');
    // The session is a cookie: a reload stays logged in.
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  test('install the sample app from a file, see it running, stop it', async () => {
    const sample = join(repoRoot, 'examples', 'sample_app_appcon');
    const archive = join(work, 'sample_app_appcon.zip');
    await makeZip(archive, [
      { name: 'sample_app_appcon/', type: 'dir' },
      {
        name: 'sample_app_appcon/run',
        content: await readFile(join(sample, 'run')),
        mode: 0o755,
      },
      { name: 'sample_app_appcon/README.md', content: await readFile(join(sample, 'README.md')) },
    ]);
    await page.getByRole('link', { name: 'Apps', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Apps', exact: true }).waitFor();
    await page.getByLabel('Package').setInputFiles(archive);
    await page.getByLabel('Start with the manager').selectOption('true');
    await page.getByRole('button', { name: 'Install' }).click();
    await page.getByText(/sample_app_appcon .*installed/).waitFor();
    await row('sample_app_appcon').locator('.badge', { hasText: 'running' }).waitFor();

    await row('sample_app_appcon').getByRole('button', { name: 'Stop' }).click();
    await page.getByText('sample_app_appcon stopped').waitFor();
    await row('sample_app_appcon')
      .locator('.badge', { hasText: /^stopped$/ })
      .waitFor();
  });

  test("an app's log follows live, pauses and searches", async () => {
    await row('sample_app_appcon').getByRole('link', { name: 'sample_app_appcon' }).click();
    const log = page.getByLabel('Log of sample_app_appcon');
    await log.getByText('SampleApp Dying...').waitFor();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    // A line printed after the page opened arrives through the followed stream.
    await log
      .getByText(/\[appvisor\] started/)
      .last()
      .waitFor();
    await page.getByLabel('Search').fill('dying');
    await page.getByText(/^1 of \d+ lines$/).waitFor();
    assert.equal(await log.locator('.log-line').count(), 1);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText(/Paused, \d+ new lines held/).waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Following live').waitFor();
  });

  test('create an echo instance, open it and use its page over WebSocket', async () => {
    const { daemon } = running;
    await installEcho(daemon.data);
    await waitForApp(daemon, 'echo');

    await page.getByRole('link', { name: 'Instances', exact: true }).first().click();
    await page.getByLabel('App', { exact: true }).selectOption('echo');
    await page.getByLabel('Instance id').fill('acme');
    await page.getByLabel('Domain (optional)').fill('example.com');
    await page.getByRole('button', { name: 'Create' }).click();
    const password = await page.getByTestId('once-password').textContent();
    assert.ok(password && password.length >= 16, `a generated password: ${password}`);
    const acme = page.locator('tr[data-instance="acme"]');
    await acme.locator('.badge', { hasText: 'ready' }).waitFor();
    await acme.getByText('/example.com/acme').waitFor();

    // A path taken by acme is refused next to the path field.
    await page.getByLabel('Instance id').fill('other');
    await page.getByLabel('Web path (optional)').fill('/example.com/acme');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('#create-path-error').getByText('is taken').waitFor();

    const [echoPage] = await Promise.all([
      context.waitForEvent('page'),
      acme.getByRole('button', { name: 'Open' }).click(),
    ]);
    assert.equal(new URL(echoPage.url()).pathname, '/example.com/acme/');
    await echoPage.getByRole('heading', { name: /Echo instance acme/ }).waitFor();
    // The page logs in to the instance with the admin login the manager signs (the
    // browser's manager session), then echoes.
    await echoPage.getByText('logged in as admin').waitFor();
    await echoPage.getByRole('button', { name: 'echo over WebSocket' }).click();
    await echoPage.locator('#echoed').getByText('hello').waitFor();
    await echoPage.close();

    // Its size shows once measured (every monitor interval): the database is never empty.
    await acme.locator('td[data-label="Database"]', { hasText: /\d MiB$/ }).waitFor();
    assert.match((await acme.locator('td[data-label="Files"]').textContent()) ?? '', /B$/);
    await page
      .getByTestId('sizes-measured')
      .getByText(/measured .* ago/)
      .waitFor();
    // Largest first: one table with the app in a column.
    await page.getByLabel('Order').selectOption('size');
    await acme.locator('td[data-label="App"]', { hasText: 'echo' }).waitFor();
    await page.getByLabel('Order').selectOption('app');
  });

  test('a trace flag switched on in the UI reaches the running instance', async () => {
    const { daemon } = running;
    await page.locator('tr[data-instance="acme"]').getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: /^acme/ }).waitFor();
    // The database's care: a vacuum, its result.
    await page.getByRole('button', { name: 'Vacuum', exact: true }).click();
    await page.getByText(/^Vacuum done: \d+ tables/).waitFor();
    const flag = page.getByRole('switch', { name: 'app', exact: true });
    assert.equal(await flag.isChecked(), false);
    await flag.check();
    await eventually(
      async () => ((await flag.isChecked()) && (await flag.isEnabled()) ? true : undefined),
      10_000,
      'the flag applied',
    );
    // The instance now writes a trace line per count: count once through the front.
    const answer = await fetch(`${daemon.httpUrl}/example.com/acme/count`, { method: 'POST' });
    const { count } = (await answer.json()) as { count: number };
    await page.getByRole('link', { name: 'echo', exact: true }).click();
    await page.getByLabel('Log of echo').getByText(`[acme] count ${count}`).waitFor();
  });

  test('a bad certificate is refused with the reason next to the field', async () => {
    const bundle = join(work, 'bad.pem');
    const key = join(work, 'bad.key');
    await writeFile(bundle, 'this is not a certificate\n');
    await writeFile(key, 'nor is this a key\n');
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByTestId('cert-facts').getByText('(self-signed)').waitFor();
    await page.getByLabel('Certificate bundle (PEM)').setInputFiles(bundle);
    await page.getByLabel('Private key (PEM)').setInputFiles(key);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page
      .locator('#cert-bundle-error')
      .getByText('the bundle holds no PEM certificate')
      .waitFor();
    // Still the self-signed one.
    await page.getByTestId('cert-facts').getByText('(self-signed)').waitFor();
  });

  test('platform label: a bad DNS name is refused at its field; the label shows in the header', async () => {
    await page.getByLabel('DNS name').fill('https://bad');
    await page.getByRole('button', { name: 'Save' }).first().click();
    await page.locator('#settings-dns-error').getByText('not a valid DNS name').waitFor();
    await page.getByLabel('DNS name').fill('apps.example.com');
    await page.getByLabel('Label').fill('Test platform');
    await page.getByRole('button', { name: 'Save' }).first().click();
    await page.getByText('Platform settings saved.').waitFor();
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.locator('.brand .label', { hasText: 'Test platform' }).waitFor();
  });

  test('the configuration file: download it, edit it, check it, apply it', async () => {
    const { daemon } = running;
    await writeFile(join(work, 'nas.pw'), 'nas-password\n');
    const added = await cli([
      ...['backup', 'target', 'add', 'nas', 'http://127.0.0.1:9/box', '--user', 'backup'],
      ...['--password-file', join(work, 'nas.pw'), '--data', daemon.data],
    ]);
    assert.equal(added.code, 0, added.stderr);
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download configuration' }).click(),
    ]);
    assert.match(
      download.suggestedFilename(),
      /^appvisor-config-apps\.example\.com-\d{4}-\d\d-\d\d\.json$/,
    );
    const text = await readFile(await download.path(), 'utf8');
    assert.match(text, /"label": "Test platform"/);

    const broken = join(work, 'broken.json');
    await writeFile(broken, text.replace('"label"', '"lable"'));
    await page.getByLabel('File to import').setInputFiles(broken);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByText(/IMPORT_INVALID: platform\.lable \(line \d+\): unknown key/).waitFor();

    const edited = join(work, 'edited.json');
    assert.match(text, /"url": "http:\/\/127\.0\.0\.1:9\/box"/);
    assert.ok(!text.includes('nas-password'));
    await writeFile(
      edited,
      text
        .replace('"Test platform"', '"Renamed platform"')
        .replace('"http://127.0.0.1:9/box"', '"http://127.0.0.1:9/other"'),
    );
    await page.getByLabel('File to import').setInputFiles(edited);
    await page.getByRole('button', { name: 'Check' }).click();
    const plan = page.getByTestId('config-plan');
    await plan.getByText('2 changes would be made:').waitFor();
    await plan.getByText('~ platform label: "Test platform" -> "Renamed platform"').waitFor();
    // Another URL: the credentials were for the other server and are not carried over.
    await plan
      .getByText(
        '~ backup target nas: url "http://127.0.0.1:9/box" -> "http://127.0.0.1:9/other", credentials (secret) -> none',
      )
      .waitFor();
    // Checking changed nothing yet.
    assert.equal(await page.getByLabel('Label').inputValue(), 'Test platform');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('The configuration was imported.').waitFor();
    await page.reload();
    await page.locator('.brand .label', { hasText: 'Renamed platform' }).waitFor();
  });

  test("an instance's link to a PBX: URLs and domain to copy, password, a new database password", async () => {
    const { daemon } = running;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: daemon.adminUrl,
    });
    await page.getByRole('link', { name: 'Instances', exact: true }).first().click();
    await page.locator('tr[data-instance="acme"]').getByRole('link', { name: 'Edit' }).click();
    const card = page.getByRole('region', { name: 'Link to a PBX' });
    // The DNS name set in Settings above.
    await card
      .getByTestId('link-url')
      .getByText('https://apps.example.com/example.com/acme', { exact: true })
      .waitFor();
    assert.equal(
      await card.getByTestId('link-websocket').textContent(),
      'wss://apps.example.com/example.com/acme',
    );
    assert.equal(await card.getByTestId('link-domain').textContent(), 'example.com');
    assert.equal(await card.getByTestId('link-db-user').textContent(), 'i_acme');
    await card.getByRole('button', { name: 'Copy the app object URL' }).click();
    await card.getByText('Copied.').waitFor();
    assert.equal(
      await page.evaluate('navigator.clipboard.readText()'),
      'https://apps.example.com/example.com/acme',
    );
    await card.getByRole('button', { name: 'Show password' }).click();
    const password = await card.getByTestId('link-password').textContent();
    assert.equal(password, await passwordOf(daemon, 'acme'));

    // Without a DNS name the instance's domain stands in, and the card says so.
    const cleared = await cli(['settings', 'set', '--dns-name', '', '--data', daemon.data]);
    assert.equal(cleared.code, 0, cleared.stderr);
    await card
      .getByTestId('link-url')
      .getByText('https://example.com/example.com/acme', { exact: true })
      .waitFor();
    await card.getByTestId('link-dns-hint').getByText('no DNS name is set').waitFor();

    const before = await credentials(daemon, 'acme');
    await card.getByRole('button', { name: 'New database password…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Replace the password' }).click();
    await page.getByText('acme: the database role has a new password').waitFor();
    const after = await credentials(daemon, 'acme');
    assert.notEqual(after.password, before.password);
    const answer = await fetch(`${daemon.httpUrl}/example.com/acme/count`, { method: 'POST' });
    assert.equal(answer.status, 200, 'the instance still reaches its database');
    await page.locator('.heading .badge', { hasText: 'ready' }).waitFor();
  });

  test('log out: the session ends', async () => {
    const { daemon } = running;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You are logged out.').waitFor();
    await page.goto(`${daemon.adminUrl}/manager/apps`);
    await page.getByLabel('Admin password').waitFor();
  });
});
