/**
 * A hostile app's page, opened by a logged-in admin in the same browser, tries what a script of
 * the admin's origin could do: read the admin API, post to it, put a service worker over the
 * admin UI, and overwrite or clear the admin's cookie. The admin UI lives on its own origin, so
 * none of it may touch the admin.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { loop, makeAppFolder } from '../helpers/apps.js';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import {
  appStatus,
  cli,
  echoWithInstance,
  makeTemp,
  nodeServiceWithInstance,
  passwordOf,
  waitForApp,
  withDaemon,
} from '../helpers/daemon.js';

/** Serves a page whose script attacks the admin origin given in its query string. */
const evil = `const http = require('node:http');
const fs = require('node:fs');
const socket = process.env.APPVISOR_HTTP_SOCKET;
try { fs.unlinkSync(socket); } catch {}
const page = \`<!doctype html><title>evil</title><pre id="out">running</pre><script>
const admin = new URLSearchParams(location.search).get('admin');
const results = {};
async function attempt(name, work) {
  try { results[name] = await work(); } catch (error) { results[name] = 'failed: ' + error.name; }
}
(async () => {
  await attempt('sameOriginRead', async () => {
    const answer = await fetch('/manager/api/v1/instances/victim?reveal=true', { credentials: 'include' });
    return answer.status + ' ' + (await answer.text());
  });
  await attempt('adminRead', async () => {
    const answer = await fetch(admin + '/manager/api/v1/instances/victim?reveal=true', { credentials: 'include' });
    return answer.status + ' ' + (await answer.text());
  });
  await attempt('noCorsStop', async () => {
    await fetch(admin + '/manager/api/v1/apps/target/stop', {
      method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'content-type': 'text/plain' }, body: '{}',
    });
    return 'sent';
  });
  await attempt('frontStop', async () => {
    await fetch('/manager/api/v1/apps/target/stop', { method: 'POST', credentials: 'include' });
    return 'sent';
  });
  await attempt('serviceWorker', async () => {
    const registration = await navigator.serviceWorker.register('/evil/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
    return 'registered ' + registration.scope;
  });
  document.cookie = 'appvisor_session=forged; path=/manager';
  document.cookie = 'appvisor_session=forged2; path=/manager/api';
  document.getElementById('out').textContent = JSON.stringify(results);
})();
</script>\`;
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/evil/sw.js')) {
    res.writeHead(200, { 'content-type': 'text/javascript', 'service-worker-allowed': '/' });
    res.end("self.addEventListener('install', () => self.skipWaiting());" +
      "self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));" +
      "self.addEventListener('fetch', (e) => e.respondWith(new Response('<h1>PHISHED</h1>', { headers: { 'content-type': 'text/html' } })));");
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/html',
    'set-cookie': ['appvisor_session=from-app; Path=/manager; HttpOnly', 'appvisor_session=from-app2; Path=/'],
    'clear-site-data': '"cookies", "storage"',
  });
  res.end(page);
});
server.listen(socket, () => process.send({ type: 'ready', httpSocket: socket, handoff: false }));
process.on('message', (m) => {
  if (m.type === 'instance.start') process.send({ type: 'instance.ready', id: m.instance.id });
});
`;

describeInBrowser('the admin origin against a hostile app page', (openPage) => {
  const running = withDaemon();
  let context: BrowserContext;
  let page: Page;
  let victimPassword = '';

  before(async () => {
    const { daemon } = running;
    const work = await makeTemp();
    await echoWithInstance(daemon, 'victim');
    victimPassword = await passwordOf(daemon, 'victim');
    const target = await makeAppFolder(work, 'target', { run: loop('target') });
    assert.equal(
      (await cli(['app', 'install', target, '--autostart', '--data', daemon.data])).code,
      0,
    );
    await waitForApp(daemon, 'target');
    await nodeServiceWithInstance(daemon, 'evil', evil, { id: 'evil', path: '/evil' });
    page = await openPage(30_000);
    context = page.context();
  });

  test('the app page reads nothing, changes nothing, and the admin UI stays itself', async () => {
    const { daemon } = running;
    await logIn(page, daemon, daemon.password!);
    // The front's /manager/ only points to the admin origin.
    const redirected = await page.goto(`${daemon.adminUrl}/manager/`);
    assert.equal(new URL(redirected!.url()).origin, daemon.adminUrl);

    const app = await context.newPage();
    await app.goto(`${daemon.httpUrl}/evil/?admin=${encodeURIComponent(daemon.adminUrl)}`);
    await app.waitForFunction("document.getElementById('out').textContent !== 'running'");
    const results = JSON.parse((await app.locator('#out').textContent()) ?? '{}') as Record<
      string,
      string
    >;
    for (const value of Object.values(results)) {
      assert.ok(!value.includes(victimPassword), `leaked: ${JSON.stringify(results)}`);
    }
    assert.match(results.sameOriginRead!, /^failed/, JSON.stringify(results));
    assert.match(results.adminRead!, /^failed/, JSON.stringify(results));
    await app.close();

    assert.equal((await appStatus(daemon, 'target')).state, 'running', 'the app was stopped');
    // The admin UI is still the admin UI, and the admin is still logged in.
    await page.goto(`${daemon.adminUrl}/manager/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    assert.ok(!(await page.content()).includes('PHISHED'));
    await page.goto(`${daemon.adminUrl}/manager/instances`);
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
  });
});
