import assert from 'node:assert/strict';
/**
 * A real browser for end-to-end tests of the admin UI: Debian's chromium driven by
 * playwright-core, headless. `.ci/run` installs chromium when it is missing.
 */
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import type { Daemon } from './daemon.js';

/** The browser executable: `APPVISOR_CHROMIUM` or Debian's `/usr/bin/chromium`. */
export const chromiumPath = process.env.APPVISOR_CHROMIUM ?? '/usr/bin/chromium';

/** Why no browser can be had here, or undefined when one can. */
export function browserMissing(): string | undefined {
  return existsSync(chromiumPath)
    ? undefined
    : `no browser at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set APPVISOR_CHROMIUM`;
}

/** Opens a page of the suite's browser ({@link describeInBrowser}). */
export type PageOpener = (timeoutMs: number, options?: BrowserContextOptions) => Promise<Page>;

/**
 * A suite of the admin UI in a browser: `body` declares its tests as `describe` does. The suite
 * has one browser, started before its tests and closed after them; `openPage` opens a page in
 * a new context of it, at a desktop size (1280×900), its actions waiting up to `timeoutMs`
 * (`options`: more of the context's, such as a time zone). Where no browser can be had, one
 * skipped test of the same name says why.
 */
export function describeInBrowser(name: string, body: (openPage: PageOpener) => void): void {
  const missing = browserMissing();
  if (missing) {
    test(name, (t) => {
      // CI installs chromium (.ci/run): there a missing browser is a failure, not a skip that
      // would hide every UI test.
      if (process.env.CI) assert.fail(missing);
      t.skip(missing);
    });
    return;
  }
  describe(name, () => {
    let browser: Browser | undefined;
    before(async () => {
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });
    body(async (timeoutMs, options = {}) => {
      if (!browser) throw new Error('the browser is not started');
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        ...options,
      });
      const page = await context.newPage();
      page.setDefaultTimeout(timeoutMs);
      return page;
    });
  });
}

/** Starts headless chromium (without its sandbox, which needs privileges CI lacks). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // The admin origin has the platform's self-signed certificate in tests.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--ignore-certificate-errors'],
  });
}

/** Logs in through the login page with the admin password and waits for the overview. */
export async function logIn(page: Page, daemon: Daemon, password: string): Promise<void> {
  await page.goto(`${daemon.adminUrl}/manager/`);
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}
