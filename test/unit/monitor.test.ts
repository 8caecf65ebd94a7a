import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  SystemMonitor,
  cpuPercent,
  parseLoadavg,
  parseMeminfo,
  parseProcStat,
} from '../../src/core/monitor/index.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';

const stat = (user: number, idle: number) =>
  `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\nintr 1 2 3\n`;

describe('system monitor', () => {
  test('the CPU share is the busy ticks between two readings over all ticks', () => {
    const before = parseProcStat(stat(100, 900));
    const after = parseProcStat(stat(130, 970));
    assert.equal(cpuPercent(before, after), 30);
    assert.equal(cpuPercent(after, after), 0);
  });

  test('memory used is total minus available; loads are three numbers', () => {
    const meminfo = 'MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n';
    assert.deepEqual(parseMeminfo(meminfo), { totalBytes: 1024000, availableBytes: 256000 });
    assert.deepEqual(parseLoadavg('0.52 0.31 0.20 2/345 6789\n'), [0.52, 0.31, 0.2]);
  });

  test('reads a /proc and the data folder file system, without running anything', async () => {
    const root = await makeTemp();
    try {
      const proc = join(root, 'proc');
      await mkdir(proc);
      await writeFile(join(proc, 'stat'), stat(100, 900));
      await writeFile(
        join(proc, 'meminfo'),
        'MemTotal:       2000 kB\nMemFree:         500 kB\nMemAvailable:   1500 kB\n',
      );
      await writeFile(join(proc, 'loadavg'), '1.00 0.50 0.25 1/100 42\n');
      const monitor = new SystemMonitor({ dataDir: root, procRoot: proc, minSpanMs: 20 });
      const first = await monitor.read();
      assert.equal(first.cpu.percent, 0);
      assert.equal(first.cpu.cores, 2);
      assert.deepEqual(first.load, [1, 0.5, 0.25]);
      assert.equal(first.memory.usedBytes, 500 * 1024);
      assert.equal(first.memory.percent, 25);
      assert.ok(first.disk.totalBytes > 0 && first.disk.freeBytes <= first.disk.totalBytes);
      assert.equal(first.disk.path, root);

      // The next reading measures since the previous one.
      await new Promise((resolve) => setTimeout(resolve, 30));
      await writeFile(join(proc, 'stat'), stat(150, 950));
      assert.equal((await monitor.read()).cpu.percent, 50);
    } finally {
      await removeTemp(root);
    }
  });
});
