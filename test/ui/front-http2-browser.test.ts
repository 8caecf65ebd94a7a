/**
 * A browser on the front's HTTPS port: the page and its requests come over HTTP/2, and the
 * page's WebSocket still works beside them (browsers open it on an HTTP/1.1 connection of its
 * own, since the front does not offer WebSockets over HTTP/2).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { describeInBrowser } from '../helpers/browser.js';
import { echoWithInstance, withDaemon } from '../helpers/daemon.js';

describeInBrowser('an instance page in a browser over HTTP/2', (openPage) => {
  const running = withDaemon();

  before(async () => {
    await echoWithInstance(running.daemon, 'acme');
  });

  test('the page, its fetches and its WebSocket work; HTTP requests use h2', async () => {
    const { daemon } = running;
    const page = await openPage(30_000);
    try {
      await page.goto(`${daemon.httpsUrl}/example.com/acme/`);
      await page.locator('#count').filter({ hasText: /^\d+$/ }).waitFor();
      const before = Number(await page.locator('#count').textContent());
      await page.click('#hit');
      await page
        .locator('#count')
        .filter({ hasText: String(before + 1) })
        .waitFor();
      // The WebSocket opened and the instance answered its challenge: without a grant from the
      // admin UI the page then says it is not logged in.
      await page.locator('#login').filter({ hasText: 'not logged in' }).waitFor();
      // The page's own code, as text: Node's types of `performance` are not the browser's.
      const protocols = await page.evaluate<string[]>(
        `[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
          .map((entry) => entry.nextHopProtocol)`,
      );
      assert.ok(protocols.length >= 3, JSON.stringify(protocols));
      assert.deepEqual(
        protocols.filter((protocol) => protocol !== 'h2'),
        [],
        'every HTTP request of the page went over HTTP/2',
      );
    } finally {
      await page.context().close();
    }
  });
});
