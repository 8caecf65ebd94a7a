/**
 * The Alarms page's card for what an admin does when the disk fills or something goes wrong
 * (docs/alarms.md): the data folder's disk and its reserve, releasing the reserve (asked
 * first, the free space after it shown), and the diagnostics archive to download.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { apiBase, call, type DiskReport } from '../api.js';
import { ConfirmDialog, ErrorText, Facts, useNotice } from '../components.js';
import { bytes } from '../format.js';
import { usePoll } from '../hooks.js';

/** What the reserve holds now, as a fact. */
function reserveText(report: DiskReport): string {
  if (report.reserveTargetBytes === 0) return 'none (disk.reserveBytes is 0)';
  if (report.reserveBytes === 0)
    return `released (made again, ${bytes(report.reserveTargetBytes)}, once the disk has room)`;
  return `${bytes(report.reserveBytes)} of ${bytes(report.reserveTargetBytes)}`;
}

/** Free space, the reserve with its release button, and the diagnostics download. */
export function DiskCard() {
  const disk = usePoll(() => call<DiskReport>('GET', '/disk'), 10_000);
  const [confirming, setConfirming] = useState(false);
  const released = useNotice((report: DiskReport) => ({
    kind: 'ok',
    children: (
      <span data-testid="reserve-released">
        The disk reserve was released: {bytes(report.freeBytes)} free of {bytes(report.totalBytes)}.
      </span>
    ),
  }));
  const report = disk.data;
  const facts: [string, ComponentChildren][] = report
    ? [
        ['Free', `${bytes(report.freeBytes)} of ${bytes(report.totalBytes)}`],
        ['Reserve', reserveText(report)],
        [
          'Low below',
          `${bytes(report.lowBytes)}${report.low ? ' (the disk is low now: disk-low)' : ''}`,
        ],
      ]
    : [];
  return (
    <section class="card" aria-labelledby="disk-title" data-testid="disk-card">
      <h2 id="disk-title">Disk and diagnostics</h2>
      <ErrorText message={disk.error && `Cannot read the disk: ${disk.error}`} />
      {report && <Facts facts={facts} />}
      {released.view}
      <div class="actions">
        <button
          type="button"
          disabled={!report || report.reserveBytes === 0}
          onClick={() => {
            released.clear();
            setConfirming(true);
          }}
        >
          Release the disk reserve…
        </button>
        <a class="button" href={`${apiBase}/diagnostics`} download>
          Download diagnostics
        </a>
      </div>
      <p class="hint">
        Diagnostics: one tar.gz with the logs, status, instances, settings, configuration and alarm
        history, secrets removed.
      </p>
      <ConfirmDialog
        open={confirming}
        title="Release the disk reserve?"
        confirmLabel="Release"
        danger
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={async () => {
          const after = await call<DiskReport>('POST', '/disk/release');
          disk.set(after);
          released.show(after);
        }}
      >
        <p>
          The reserve file <code>{report?.path}/reserve</code>
          {report ? ` (${bytes(report.reserveBytes)})` : ''} is deleted at once: its space is free
          for the database and the apps to finish what they were writing. Free more space then; the
          reserve is made again once the disk has room.
        </p>
      </ConfirmDialog>
    </section>
  );
}
