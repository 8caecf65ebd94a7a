/**
 * The overview's graphs and the Alarms page end to end: a real daemon sampling every second, a
 * real browser; what an administrator sees as samples arrive, an app runs, and an alarm is
 * raised and cleared. Skipped, saying why, only when no browser can be had.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { loop, makeAppFolder } from '../helpers/apps.js';
import { describeInBrowser, logIn } from '../helpers/browser.js';
import { cli, eventually, makeTemp, waitForApp, withDaemon } from '../helpers/daemon.js';

/** The number of points a graph's caption says it shows. */
async function pointsOf(chart: Locator): Promise<number> {
  const caption = (await chart.locator('figcaption').textContent()) ?? '';
  const match = /\((\d+) points?\)/.exec(caption);
  assert.ok(match, `a point count in "${caption}"`);
  return Number(match[1]);
}

/** The disk reserve of the test's daemon: 4 MiB. */
const reserveBytes = 4 * 1024 * 1024;

describeInBrowser('graphs and alarms in a browser', (openPage) => {
  const running = withDaemon({
    args: [
      '--set',
      'monitor.intervalSeconds=1',
      '--set',
      'apps.stopGraceSeconds=2',
      // A small reserve, for the page to release.
      '--set',
      `disk.reserveBytes=${reserveBytes}`,
    ],
  });
  let page: Page;
  let work: string;

  before(async () => {
    work = await makeTemp();
    page = await openPage(30_000);
    await logIn(page, running.daemon, running.daemon.password!);
  });

  test('the machine graphs fill with samples, with units and the latest value', async () => {
    await page.getByRole('heading', { name: 'Graphs' }).waitFor();
    await page.getByLabel('Period').selectOption({ label: '15 min' });
    const cpu = page.getByTestId('chart-cpu');
    // uPlot drew it: a canvas and a legend naming the line.
    await cpu.locator('canvas').first().waitFor();
    await cpu.locator('.u-legend').getByText('busy').waitFor();
    const first = await eventually(
      async () => {
        const points = await pointsOf(cpu);
        return points >= 2 ? points : undefined;
      },
      20_000,
      'two CPU samples on the graph',
    );
    assert.match(
      (await cpu.locator('figcaption').textContent()) ?? '',
      /^CPU: busy \d+(\.\d)? % \(\d+ points\)$/,
    );
    assert.match(
      (await cpu.getByRole('img').getAttribute('aria-label')) ?? '',
      /^CPU over time; latest: busy \d+(\.\d)? %$/,
    );
    // Pointing at the graph shows the time and the value there, with its unit, in the legend.
    await cpu.locator('.u-over').hover();
    await eventually(
      async () => {
        const values = await cpu.locator('.u-legend .u-value').allTextContents();
        return /\d+:\d+/.test(values[0] ?? '') && /^\d+(\.\d)? %$/.test(values[1] ?? '')
          ? true
          : undefined;
      },
      10_000,
      'the time and a CPU value in the legend',
    );
    for (const id of ['chart-memory', 'chart-disk']) {
      assert.match(
        (await page.getByTestId(id).locator('figcaption').textContent()) ?? '',
        /: used \d+\.\d (KiB|MiB|GiB|TiB) \(\d+ points\)$/,
        id,
      );
    }
    // The graphs refresh by themselves as samples arrive.
    await eventually(
      async () => ((await pointsOf(cpu)) > first ? true : undefined),
      20_000,
      'more points after a while',
    );
  });

  test('a running app gets its own CPU and memory lines', async () => {
    const { daemon } = running;
    const rss = page.getByTestId('chart-app-rss');
    assert.doesNotMatch((await rss.locator('figcaption').textContent()) ?? '', /busyloop/);
    const folder = await makeAppFolder(work, 'busyloop', { run: loop('busyloop') });
    const install = await cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
    assert.equal(install.code, 0, install.stderr);
    await waitForApp(daemon, 'busyloop');
    await rss.locator('.u-legend').getByText('busyloop').waitFor();
    await eventually(
      async () =>
        /busyloop \d+\.\d (KiB|MiB)/.test((await rss.locator('figcaption').textContent()) ?? '')
          ? true
          : undefined,
      20_000,
      'a memory value of busyloop in the caption',
    );
    const cpu = page.getByTestId('chart-app-cpu');
    await cpu.locator('.u-legend').getByText('busyloop').waitFor();
    // A new process's first sample has no CPU share (that takes two samples): a history read
    // between the first two shows busyloop with no value yet.
    await eventually(
      async () =>
        /busyloop \d+(\.\d)? %/.test((await cpu.getByRole('img').getAttribute('aria-label')) ?? '')
          ? true
          : undefined,
      20_000,
      'a CPU value of busyloop on the graph',
    );
  });

  test('an alarm shows on the Alarms page while active, then in the history as raised and cleared', async () => {
    const { daemon } = running;
    const ok = join(work, 'crashy-ok');
    const folder = await makeAppFolder(work, 'crashy', {
      run: `if [ -f ${ok} ]; then trap 'exit 0' TERM; while true; do sleep 0.2 & wait $!; done; fi\nexit 1`,
      manifest: { restart: { delaySeconds: 0.05, maxDelaySeconds: 0.1, stableSeconds: 1 } },
    });
    const install = await cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
    assert.equal(install.code, 0, install.stderr);

    // The overview's alarm box leads to the page.
    await page.locator('.alarm', { hasText: 'crash-loop' }).waitFor();
    await page.getByRole('heading', { name: 'Alarms' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Alarms', level: 1 }).waitFor();
    assert.equal(
      await page
        .getByRole('link', { name: 'Alarms', exact: true })
        .first()
        .getAttribute('aria-current'),
      'page',
    );
    const active = page.getByTestId('active-alarms').locator('tbody tr', { hasText: 'crash-loop' });
    await active.waitFor();
    assert.equal(await active.locator('td[data-label="Subject"]').textContent(), 'crashy');
    assert.equal(await active.locator('.badge').textContent(), 'error');
    await active.getByText(/crashy failed \d+ times within 10 minutes/).waitFor();
    const history = page.getByTestId('alarm-history').locator('tbody tr');
    await history.filter({ hasText: 'crash-loop' }).filter({ hasText: 'raised' }).waitFor();

    // A stable run clears it: gone from the active ones, the clear on top of the raise.
    await writeFile(ok, '');
    await page.getByTestId('no-active-alarms').waitFor();
    const cleared = history.filter({ hasText: 'crash-loop' }).filter({ hasText: 'cleared' });
    await cleared.waitFor();
    const rows = (await history.allTextContents()).filter((text) => text.includes('crash-loop'));
    assert.equal(rows.length, 2, rows.join('\n'));
    assert.match(rows[0] ?? '', /cleared.*crash-loop.*crashy/);
    assert.match(rows[1] ?? '', /raised.*error.*crash-loop.*crashy.*failed \d+ times/);

    // The filter goes by code or subject.
    await page.getByLabel('Filter by code or subject').fill('CRASHY');
    assert.equal(await history.filter({ hasText: 'crash-loop' }).count(), 2);
    await page.getByLabel('Filter by code or subject').fill('disk-low');
    await page.getByText('No alarm raised or cleared yet matching the filter.').waitFor();
    assert.equal(await history.count(), 0);
  });
  test('the Alarms page shows the disk, releases the reserve when asked, and downloads diagnostics', async () => {
    const { daemon } = running;
    await page.getByRole('link', { name: 'Alarms', exact: true }).first().click();
    const card = page.getByTestId('disk-card');
    await card.getByRole('heading', { name: 'Disk and diagnostics' }).waitFor();
    await card
      .getByText(/^[\d.]+ \S+ of [\d.]+ \S+$/)
      .first()
      .waitFor();
    // The reserve is made in the background at the start: the page shows it once there.
    await eventually(
      async () => {
        await page.reload();
        return card
          .getByText('4.0 MiB of 4.0 MiB')
          .waitFor({ timeout: 3000 })
          .then(
            () => true,
            () => undefined,
          );
      },
      20_000,
      'the reserve made and shown',
    );

    // Asked first: Cancel keeps it.
    await card.getByRole('button', { name: 'Release the disk reserve…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Release the disk reserve?' });
    await dialog.getByText(`${daemon.data}/reserve`).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await card.getByTestId('reserve-released').count(), 0);

    await card.getByRole('button', { name: 'Release the disk reserve…' }).click();
    await dialog.getByRole('button', { name: 'Release' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const notice = card.getByTestId('reserve-released');
    assert.match(
      (await notice.textContent()) ?? '',
      /^The disk reserve was released: [\d.]+ \S+ free of [\d.]+ \S+\.$/,
    );
    await card.getByText(/^released \(made again, 4\.0 MiB, once the disk has room\)$/).waitFor();

    // The diagnostics: a gzip the manager names, downloaded with the page's session.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('link', { name: 'Download diagnostics' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^appvisor-diagnostics-.*\.tar\.gz$/);
    const archive = await readFile(await download.path());
    assert.deepEqual([...archive.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    assert.ok(archive.length > 1000, `${archive.length} bytes`);
  });
});
