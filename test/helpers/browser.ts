/**
 * A real browser for end-to-end tests of the admin UI: Debian's chromium driven by
 * playwright-core, headless. `.ci/run` installs chromium when it is missing.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Daemon } from './daemon.js';

/** The browser executable: `APPVISOR_CHROMIUM` or Debian's `/usr/bin/chromium`. */
export const chromiumPath = process.env.APPVISOR_CHROMIUM ?? '/usr/bin/chromium';

/** Why no browser can be had here, or undefined when one can. */
export function browserMissing(): string | undefined {
  return existsSync(chromiumPath)
    ? undefined
    : `no browser at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set APPVISOR_CHROMIUM`;
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
