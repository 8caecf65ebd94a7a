/**
 * What the CLI prints where no manager is needed to tell: failures with `--json` (a manager that
 * is not running), the daemon's help, and the terminal's progress lines drawn from what the
 * manager reports. The commands against a real manager are in test/daemon.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupProgress, StoreOperation } from '../../src/api/index.js';
import { describeBackup } from '../../src/cli/commands/backup-progress.js';
import { describeStoreOperation } from '../../src/cli/commands/store-progress.js';
import { bytesText, RateMeter, withUploadProgress } from '../../src/cli/transfer-progress.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';
import { readable, runInProcess } from '../helpers/terminal.js';

describe('CLI failures with --json', () => {
  test('a manager that is not running: the error line on stderr, the error document on stdout', async () => {
    const data = await makeTemp();
    try {
      for (const args of [
        ['status'],
        ['disk'],
        ['instance', 'show', 'alpha'],
        ['backup', 'create', 'alpha'],
      ]) {
        const failed = await runInProcess(['--data', data, '--json', ...args]);
        assert.equal(failed.code, 1, args.join(' '));
        assert.match(failed.stderr, /^error MANAGER_UNREACHABLE: no manager answers at .*\n$/);
        const document = JSON.parse(failed.stdout) as { error: { code: string; message: string } };
        assert.deepEqual(Object.keys(document), ['error']);
        assert.equal(document.error.code, 'MANAGER_UNREACHABLE');
        assert.equal(
          `error ${document.error.code}: ${document.error.message}\n`,
          failed.stderr,
          'the same error in both',
        );
      }
      // Without --json stdout stays empty; the exit code is the same.
      const plain = await runInProcess(['--data', data, 'status']);
      assert.equal(plain.code, 1);
      assert.equal(plain.stdout, '');
      assert.match(plain.stderr, /^error MANAGER_UNREACHABLE: /);
    } finally {
      await removeTemp(data);
    }
  });

  test('an error the CLI finds itself is a document too; a usage error (exit 2) is not', async () => {
    const refused = await runInProcess(['--json', 'instance', 'delete', 'alpha']);
    assert.equal(refused.code, 1);
    assert.deepEqual(JSON.parse(refused.stdout), {
      error: {
        code: 'BAD_REQUEST',
        message: 'deleting alpha drops its database and files: add --yes',
      },
    });
    const usage = await runInProcess(['--json', 'instance', 'show']);
    assert.equal(usage.code, 2);
    assert.equal(usage.stdout, '');
  });
});

describe('appvisor daemon --help', () => {
  test('lists the global --data beside its own options, and no client-only option', async () => {
    const help = await runInProcess(['daemon', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--admin-port <n> /);
    assert.match(
      help.stdout,
      /\nGlobal options:\n {2}--data <dir> +data folder \(default \.\/data, or APPVISOR_DATA\)\n/,
    );
    // --json, --url and --token are for the clients of a manager, not the manager itself.
    assert.doesNotMatch(help.stdout, /--url|--token|--json/);
  });
});

describe('progress lines of long operations', () => {
  test('bytes, of a total, at a rate; a rate over the last seconds of one phase', () => {
    assert.equal(bytesText(1536, null, undefined), '1.5 KiB');
    assert.equal(
      bytesText(3 * 1024 * 1024, 12 * 1024 * 1024, 1024 * 1024),
      '3.0 MiB of 12.0 MiB (25%), 1.0 MiB/s',
    );
    let now = 0;
    const meter = new RateMeter(() => now);
    assert.equal(meter.sample('database', 0), undefined, 'one sample: no rate yet');
    now = 1000;
    assert.equal(meter.sample('database', 2048), 2048);
    now = 2000;
    assert.equal(meter.sample('database', 6144), 3072);
    // Another phase starts over.
    assert.equal(meter.sample('files', 100), undefined);
    now = 3000;
    assert.equal(meter.sample('files', 1124), 1024);
    // Older samples than 5 s leave the window.
    for (let i = 1; i <= 10; i++) {
      now = 3000 + i * 1000;
      meter.sample('files', 1124 + i * 100);
    }
    assert.equal(meter.sample('files', 2124), 100);
  });

  test('a backup and a restore: phase, bytes, share and rate', () => {
    let now = 0;
    const meter = new RateMeter(() => now);
    const at = '2026-01-01T00:00:00.000Z';
    const progress = (over: Partial<BackupProgress>): BackupProgress => ({
      operation: 'backup',
      instance: 'alpha',
      phase: 'database',
      bytes: 0,
      totalBytes: null,
      startedAt: at,
      phaseStartedAt: at,
      ...over,
    });
    assert.equal(describeBackup('backup', 'alpha', undefined, meter), 'backup of alpha: starting');
    assert.equal(describeBackup('restore', 'copy', undefined, meter), 'restore into copy: waiting');
    assert.equal(
      describeBackup('backup', 'alpha', progress({ phase: 'waiting' }), meter),
      'backup of alpha: waiting for the operations on the instance before it, or a free dump slot',
    );
    assert.equal(
      describeBackup('backup', 'alpha', progress({ bytes: 1024 * 1024 }), meter),
      'backup of alpha: database 1.0 MiB',
    );
    now = 1000;
    assert.equal(
      describeBackup('backup', 'alpha', progress({ bytes: 3 * 1024 * 1024 }), meter),
      'backup of alpha: database 3.0 MiB, 2.0 MiB/s',
    );
    assert.equal(
      describeBackup(
        'backup',
        'alpha',
        progress({ phase: 'archive', bytes: 512, totalBytes: 2048 }),
        meter,
      ),
      'backup of alpha: writing the archive 512 B of 2.0 KiB (25%)',
    );
    assert.equal(
      describeBackup('restore', 'copy', progress({ operation: 'restore', phase: 'unpack' }), meter),
      'restore into copy: unpacking the archive and checking every member',
    );
  });

  test('a store install or update: its phase, and the download with its share and rate', () => {
    let now = 0;
    const meter = new RateMeter(() => now);
    const op: StoreOperation = {
      app: 'notes',
      action: 'update',
      version: '2.0',
      build: 7,
      phase: 'downloading',
      received: 0,
      total: 4 * 1024 * 1024,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: null,
      error: null,
      rolledBack: false,
    };
    assert.equal(
      describeStoreOperation('update of notes', undefined, meter),
      'update of notes: asking the app store',
    );
    assert.equal(
      describeStoreOperation('update of notes', op, meter),
      'update of notes 2.0 (7): downloading 0 B of 4.0 MiB (0%)',
    );
    now = 500;
    assert.equal(
      describeStoreOperation('update of notes', { ...op, received: 1024 * 1024 }, meter),
      'update of notes 2.0 (7): downloading 1.0 MiB of 4.0 MiB (25%), 2.0 MiB/s',
    );
    assert.equal(
      describeStoreOperation('update of notes', { ...op, phase: 'backing-up' }, meter),
      'update of notes 2.0 (7): backing its instances up',
    );
    assert.equal(
      describeStoreOperation(
        'install of notes',
        { ...op, action: 'install', phase: 'waiting' },
        meter,
      ),
      'install of notes 2.0 (7): waiting until the app and its instances are ready',
    );
  });

  test('an upload on a terminal: bytes sent, then what the manager does; nothing without one', async () => {
    const chunks = Array.from({ length: 6 }, () => Buffer.alloc(64 * 1024, 1));
    const send = async (stream: Readable): Promise<number> => {
      let total = 0;
      for await (const chunk of stream) {
        total += (chunk as Buffer).length;
        await sleep(150);
      }
      // The manager works on it after the last byte.
      await sleep(700);
      return total;
    };
    for (const terminal of [true, false]) {
      let stderr = '';
      const context = {
        client: undefined as never,
        json: false,
        io: {
          stdout: { write: () => true },
          stderr: { write: (text: string) => (stderr += text), isTTY: terminal },
          stdin: process.stdin,
        },
      };
      const sent = await withUploadProgress(
        context,
        {
          what: 'install of notes.tar.gz',
          source: Readable.from(chunks),
          total: 6 * 64 * 1024,
          after: 'the manager unpacks and installs it',
        },
        send,
      );
      assert.equal(sent, 6 * 64 * 1024);
      if (!terminal) {
        assert.equal(stderr, '');
        continue;
      }
      const lines = readable(stderr);
      assert.match(
        lines,
        /\r<erase>\[\d+s\] install of notes\.tar\.gz: sending \d+\.\d KiB of 384\.0 KiB \(\d+%\)/,
      );
      assert.match(
        lines,
        /\r<erase>\[\d+s\] install of notes\.tar\.gz: sent 384\.0 KiB; the manager unpacks and installs it/,
      );
      assert.ok(lines.endsWith('\r<erase>'), lines);
    }
  });
});
