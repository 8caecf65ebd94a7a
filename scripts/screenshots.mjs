// Writes a PNG of each page of the admin UI to docs/screenshots/: starts a daemon in a temp
// folder with a few apps and instances, logs in with headless chromium and visits every page.
// Run with `npm run screenshots` (it builds first; the helpers come from the compiled tests).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildStoreFolder,
  makeStorePackage,
  StaticStore,
  storeKeygen,
} from '../dist/test/helpers/app-store.js';
import { makeAppFolder } from '../dist/test/helpers/apps.js';
import { browserMissing, launchBrowser, logIn } from '../dist/test/helpers/browser.js';
import {
  cli,
  killAll,
  makeTemp,
  removeTemp,
  repoRoot,
  startDaemon,
  waitForApp,
  waitForInstance,
} from '../dist/test/helpers/daemon.js';

const out = join(repoRoot, 'docs', 'screenshots');

async function run(daemon, ...args) {
  const result = await cli([...args, '--data', daemon.data]);
  if (result.code !== 0) throw new Error(`appvisor ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

const missing = browserMissing();
if (missing) {
  process.stderr.write(`screenshots: ${missing}\n`);
  process.exit(1);
}

await mkdir(out, { recursive: true });
const data = await makeTemp('appvisor-screenshots-');
const work = await makeTemp('appvisor-screenshots-work-');
// Samples every 2 s, so that the overview's graphs have a few points to draw.
const daemon = await startDaemon({ data, args: ['--set', 'monitor.intervalSeconds=2'] });
const storeDir = join(work, 'store');
const store = new StaticStore(storeDir);
let browser;
try {
  await run(
    daemon,
    'app',
    'install',
    join(repoRoot, 'examples', 'sample_app_appcon'),
    '--autostart',
  );
  await run(daemon, 'app', 'install', join(repoRoot, 'examples', 'echo'), '--autostart');
  const crashy = await makeAppFolder(work, 'crashy', {
    run: 'echo "cannot reach the mail server"; exit 1',
    // Quick first restarts, so that it is in a crash loop (an alarm) by the time of the shots.
    manifest: { version: '0.3.1', restart: { delaySeconds: 1, maxDelaySeconds: 60 } },
  });
  await run(daemon, 'app', 'install', crashy, '--autostart');
  const idle = await makeAppFolder(work, 'reports', {
    run: "trap 'exit 0' TERM\nwhile true; do sleep 1 & wait $!; done",
    manifest: { version: '2.0.0' },
  });
  await run(daemon, 'app', 'install', idle);
  await waitForApp(daemon, 'echo');
  await waitForApp(daemon, 'sample_app_appcon');
  for (const id of ['acme', 'globex']) {
    await run(daemon, 'instance', 'create', 'echo', id, '--domain', 'example.com');
    await waitForInstance(daemon, id);
  }
  await run(daemon, 'instance', 'trace', 'acme', '+app', '+database');
  await run(daemon, 'settings', 'set', '--label', 'Office North', '--dns-name', 'apps.example.com');
  for (const id of ['acme', 'globex']) await run(daemon, 'backup', 'create', id);
  const passphrase = join(work, 'passphrase');
  await writeFile(passphrase, 'a long backup passphrase\n');
  await run(
    daemon,
    'backup',
    'create',
    'acme',
    '--template',
    'offsite/#I.tar',
    '--passphrase-file',
    passphrase,
  );
  await run(
    daemon,
    'backup',
    'schedule',
    '--cron',
    '0 3 * * *',
    '--template',
    '#A/#I-#bn.tar',
    '--slots',
    '7',
  );

  // An app store with an installed app that has an update, an app not installed yet, and a
  // second store that cannot be read.
  await mkdir(storeDir);
  const storeKey = join(work, 'store.key');
  const publicKey = await storeKeygen(storeKey);
  const publish = async (id, version, build, extra) => {
    await makeStorePackage(join(storeDir, `${id}-${version}.tar.gz`), id, {
      version,
      build,
      ...extra,
    });
    await buildStoreFolder(storeDir, storeKey);
  };
  const hello = { title: 'Hello', description: 'Greets visitors' };
  await publish('hello', '1.0.0', 1, hello);
  await publish('weather', '2.3.0', 5, {
    title: 'Weather',
    description: 'Forecasts for the sites',
  });
  await store.start();
  await run(daemon, 'store', 'add', 'main', store.url(), '--key', publicKey);
  await run(daemon, 'store', 'install', 'hello', '--autostart');
  await publish('hello', '1.1.0', 2, { ...hello, label: 'beta' });
  await run(daemon, 'store', 'add', 'mirror', store.url('mirror/apps.json'), '--allow-unsigned');
  await run(daemon, 'store', 'check');

  browser = await launchBrowser();
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    colorScheme: 'light',
  });
  const page = await context.newPage();
  const shot = async (name) => {
    // Let polling and the log stream settle.
    await page.waitForTimeout(700);
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    process.stdout.write(`docs/screenshots/${name}.png\n`);
  };

  await page.goto(`${daemon.adminUrl}/manager/`);
  await page.getByLabel('Admin password').waitFor();
  await shot('login');
  await logIn(page, daemon, daemon.password);
  await page.getByRole('heading', { name: 'Disk' }).waitFor();
  await page.getByLabel('Period').selectOption({ label: '15 min' });
  await page.getByTestId('chart-app-rss').locator('.u-legend').getByText('echo').waitFor();
  await page
    .getByTestId('chart-cpu')
    .getByText(/\((1\d|[2-9]\d) points\)/)
    .waitFor();
  await shot('overview');

  await page.goto(`${daemon.adminUrl}/manager/apps`);
  await page.locator('tr[data-app="crashy"] .badge', { hasText: 'backoff' }).waitFor();
  await shot('apps');

  await page.goto(`${daemon.adminUrl}/manager/apps/sample_app_appcon`);
  await page.getByLabel('Log of sample_app_appcon').getByText('SampleApp pid').first().waitFor();
  await shot('app');

  await page.goto(`${daemon.adminUrl}/manager/instances`);
  await page.locator('tr[data-instance="acme"] .badge', { hasText: 'ready' }).waitFor();
  // Sizes are measured every monitor interval.
  await page
    .locator('tr[data-instance="globex"] td[data-label="Database"]', { hasText: 'MiB' })
    .waitFor();
  await shot('instances');

  await page.goto(`${daemon.adminUrl}/manager/instances/acme`);
  await page.getByRole('switch', { name: 'database', exact: true }).waitFor();
  await shot('instance');

  await page.goto(`${daemon.adminUrl}/manager/backups`);
  await page.locator('tr[data-instance="globex"]').waitFor();
  await page.locator('tr[data-instance="acme"]').first().getByRole('button').click();
  await page.getByLabel('New instance id').fill('acme-copy');
  await shot('backups');

  await page.goto(`${daemon.adminUrl}/manager/alarms`);
  await page.getByTestId('active-alarms').getByText('crash-loop').waitFor();
  await shot('alarms');

  await page.goto(`${daemon.adminUrl}/manager/store`);
  await page
    .locator('tr[data-store-app="hello"] .badge', { hasText: 'update available' })
    .waitFor();
  await page.getByTestId('store-problems').waitFor();
  await shot('store');

  await page.goto(`${daemon.adminUrl}/manager/settings`);
  await page.getByTestId('cert-facts').waitFor();
  await shot('settings');

  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${daemon.adminUrl}/manager/apps`);
  await page.locator('tr[data-app="echo"] .badge', { hasText: 'running' }).waitFor();
  await shot('apps-360');
} finally {
  await browser?.close();
  await store.close();
  await daemon.stop();
  await killAll(data);
  await removeTemp(data);
  await removeTemp(work);
}
