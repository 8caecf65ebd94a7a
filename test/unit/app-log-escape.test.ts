import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { AppLog } from '../../src/core/logs/index.js';
import { humanSink } from '../../src/lib/logger.js';

const at = new Date('2026-01-01T00:00:00.000Z');
const prefix = /^2026-01-01T00:00:00\.000Z \[(out|err|appvisor|acme)\] /;

async function withLog(write: (log: AppLog) => Promise<void> | void): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'appvisor-app-log-'));
  try {
    const log = new AppLog(join(dir, 'app.log'), { maxBytes: 1024 * 1024, files: 2 }, () => at);
    await write(log);
    await log.close();
    const text = await readFile(join(dir, 'app.log'), 'utf8');
    return text.split('\n').slice(0, -1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('an app cannot forge a line of its log', () => {
  const forged = `2026-01-01T00:00:00.000Z [appvisor] service ready`;

  test('a service log message with newlines, CR and ANSI codes stays one line', async () => {
    const lines = await withLog((log) => {
      log.write('acme', `ok\n${forged}\r${forged}\u001b[2K\u2028${forged}\u202e`);
      log.note('a real note');
    });
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, prefix);
    assert.match(lines[0]!, /^\S+ \[acme\] ok\\n2026.*\\r2026.*\\x1b\[2K\\u2028.*\\u202e$/);
    assert.equal(lines[1], '2026-01-01T00:00:00.000Z [appvisor] a real note');
  });

  test('stdout with a carriage return or escape codes is written escaped', async () => {
    const lines = await withLog(async (log) => {
      const out = new PassThrough();
      log.attach(out, 'out');
      out.end(`plain\r${forged}\u001b[1A\nsecond\tline\r\n`);
      await new Promise((resolve) => setImmediate(resolve));
    });
    assert.deepEqual(lines, [
      `2026-01-01T00:00:00.000Z [out] plain\\r${forged}\\x1b[1A`,
      '2026-01-01T00:00:00.000Z [out] second\tline',
    ]);
  });

  test('the terminal copy of the manager log escapes what an event carries', () => {
    const written: string[] = [];
    const sink = humanSink({ write: (line: string) => written.push(line) });
    sink.write(
      JSON.stringify({
        level: 'warn',
        msg: 'text\nappvisor error: forged\u001b[31m',
        subject: 'a',
      }),
    );
    assert.deepEqual(written, [
      'appvisor warn: text\\nappvisor error: forged\\x1b[31m (subject=a)\n',
    ]);
  });
});
