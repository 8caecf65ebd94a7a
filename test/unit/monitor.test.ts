import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import {
  MonitorSampler,
  PrometheusExporter,
  ProcessTable,
  SampleRing,
  parseListen,
  parsePidStat,
  type MonitorSnapshot,
} from '../../src/core/monitor/index.js';
import { find, parseExposition } from '../helpers/prometheus.js';

describe('monitor: the sample ring', () => {
  test('keeps only the newest samples once more than its capacity were pushed', () => {
    const ring = new SampleRing(5);
    for (let i = 0; i < 12; i++) ring.push(i * 1000, { a: i });
    assert.equal(ring.size, 5);
    assert.deepEqual(
      ring.values('a').map((v) => [v.at, v.value]),
      [7, 8, 9, 10, 11].map((i) => [i * 1000, i]),
    );
  });

  test('downsamples to buckets aligned on the resolution, with mean and max, keeping gaps', () => {
    const ring = new SampleRing(100);
    for (let s = 0; s < 30; s++) ring.push(s * 1000, { a: s, b: s < 10 ? null : 1 });
    // A gap: nothing between 30 s and 50 s.
    ring.push(55_000, { a: 100, b: 2 });
    const buckets = ring.downsample(['a', 'b', 'missing'], 10_000, 0, Infinity);
    assert.deepEqual(
      buckets.map((b) => b.at),
      [0, 10_000, 20_000, 50_000],
    );
    assert.deepEqual(
      buckets.map((b) => b.avg),
      [
        [4.5, null, null],
        [14.5, 1, null],
        [24.5, 1, null],
        [100, 2, null],
      ],
    );
    assert.deepEqual(
      buckets.map((b) => b.max[0]),
      [9, 19, 29, 100],
    );
    // `from`/`to` select samples; raw (0) is one bucket per sample.
    assert.equal(ring.downsample(['a'], 0, 5_000, 7_000).length, 3);
  });

  test('a day every 10 s of the machine, PostgreSQL and one app stays under half a megabyte', () => {
    const ring = new SampleRing(8640);
    const names = [
      'machine.cpu',
      'machine.memoryUsed',
      'machine.load1',
      'machine.diskUsed',
      'machine.diskFree',
      'postgres.cpu',
      'postgres.rss',
      'postgres.connections',
    ];
    ring.push(0, Object.fromEntries(names.map((n) => [n, 1])));
    assert.equal(ring.byteLength, 8640 * 8 + 8 * 8640 * 4); // 345,600 bytes
    ring.push(1, { 'app.one.cpu': 1, 'app.one.rss': 1 });
    assert.equal(ring.byteLength, 345_600 + 2 * 8640 * 4); // +69,120 bytes per app
  });
});

describe('monitor: processes', () => {
  test('parses /proc/<pid>/stat with spaces and parentheses in the name', () => {
    const line =
      '4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 120 30 5 2 20 0 1 0 555 1000 200 18446744073709551615';
    assert.deepEqual(parsePidStat(line), { pid: 4242, ppid: 17, ticks: 157 });
    assert.equal(parsePidStat('garbage'), undefined);
  });

  test('finds the children of a process and sums their memory', async () => {
    const child = spawn('/bin/sh', ['-c', 'sleep 30 & sleep 30 & wait'], {
      stdio: 'ignore',
      detached: true,
    });
    try {
      let usage;
      for (let i = 0; i < 50; i++) {
        usage = await (await ProcessTable.read()).usage(child.pid!);
        if (usage && usage.processes === 3) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(usage?.processes, 3);
      assert.ok(usage.rssBytes > 0);
      assert.equal(await (await ProcessTable.read()).usage(2 ** 22 + 1), undefined);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });
});

describe('monitor: the sampler', () => {
  test('with a fake clock, history holds the newest samples at the chosen resolution', async () => {
    let now = 1_700_000_000_000;
    const sampler = new MonitorSampler({
      dataDir: tmpdir(),
      intervalMs: 10_000,
      historyMs: 40_000, // 4 samples
      now: () => now,
      sources: {
        apps: () => [{ id: 'self', state: 'running', pid: process.pid, restarts: 0 }],
        instances: () => [],
        database: () => ({ state: 'running', pid: null }),
        connections: () => Promise.resolve(3),
      },
    });
    for (let i = 0; i < 6; i++) {
      await sampler.sample();
      now += 10_000;
    }
    const raw = sampler.history({ resolution: 'raw', series: ['app.self.rss'] });
    assert.equal(raw.times.length, 4);
    assert.deepEqual(
      raw.times,
      [2, 3, 4, 5].map((i) => 1_700_000_000_000 + i * 10_000),
    );
    assert.ok(raw.series[0]!.avg.every((v) => v !== null && v > 1024 * 1024));
    const minute = sampler.history({ resolution: '1m', series: ['postgres.connections'] });
    assert.ok(minute.times.length >= 1 && minute.times.length <= 2);
    assert.ok(minute.times.every((t) => t % 60_000 === 0));
    assert.equal(minute.series[0]!.max[0], 3);
    assert.throws(() => sampler.history({ series: ['nope'] }), /unknown series/);
    await sampler.close();
  });
});

describe('monitor: Prometheus text', () => {
  test('is valid exposition format with per-app, instance and PostgreSQL series', async () => {
    const snapshot: MonitorSnapshot = {
      at: new Date().toISOString(),
      intervalSeconds: 10,
      machine: {
        at: new Date().toISOString(),
        cpu: { percent: 12.5, cores: 2 },
        load: [0.5, 0.25, 0.1],
        memory: { totalBytes: 4e9, availableBytes: 3e9, usedBytes: 1e9, percent: 25 },
        disk: { path: '/x', totalBytes: 1e11, freeBytes: 5e10, usedBytes: 5e10, percent: 50 },
      },
      apps: [
        {
          id: 'web',
          state: 'running',
          pid: 10,
          restarts: 2,
          processes: 3,
          cpuPercent: 150,
          rssBytes: 1e8,
        },
        {
          id: 'off',
          state: 'stopped',
          pid: null,
          restarts: 0,
          processes: 0,
          cpuPercent: null,
          rssBytes: null,
        },
      ],
      instances: [{ id: 'shop', app: 'web', ready: true }],
      postgres: {
        state: 'running',
        pid: 5,
        processes: 7,
        cpuPercent: 1,
        rssBytes: 2e8,
        connections: 4,
      },
    };
    const web = snapshot.apps[0]!;
    const exporter = new PrometheusExporter(() => Promise.resolve(snapshot));
    const samples = parseExposition(await exporter.render());
    assert.equal(find(samples, 'appvisor_app_cpu_percent', { app: 'web' })[0]?.value, 150);
    assert.equal(find(samples, 'appvisor_app_rss_bytes', { app: 'off' }).length, 0);
    assert.equal(find(samples, 'appvisor_app_state', { app: 'web' }).length, 6);
    assert.equal(
      find(samples, 'appvisor_app_state', { app: 'web', state: 'running' })[0]?.value,
      1,
    );
    assert.equal(find(samples, 'appvisor_app_restarts', { app: 'web' })[0]?.value, 2);
    assert.equal(
      find(samples, 'appvisor_instance_ready', { instance: 'shop', app: 'web' })[0]?.value,
      1,
    );
    assert.equal(find(samples, 'appvisor_postgres_connections')[0]?.value, 4);
    // A removed app leaves no series behind at the next scrape.
    snapshot.apps = [];
    const after = parseExposition(await exporter.render());
    assert.equal(find(after, 'appvisor_app_state').length, 0);

    // On a cluster every series names its node; the platform's text has every node's and
    // the totals over those that answered.
    snapshot.apps = [{ ...web, state: 'running' }];
    const clustered = new PrometheusExporter(() => Promise.resolve(snapshot), { node: 'n1' });
    const own = parseExposition(await clustered.render());
    assert.equal(find(own, 'appvisor_app_cpu_percent', { app: 'web', node: 'n1' })[0]?.value, 150);
    assert.ok(own.every((sample) => sample.labels.node === 'n1'));
    const other: MonitorSnapshot = {
      ...snapshot,
      apps: [{ ...web, cpuPercent: 50, rssBytes: 2e8, processes: 1 }],
      instances: [
        { id: 'blog', app: 'web', ready: false },
        { id: 'wiki', app: 'web', ready: true },
      ],
    };
    const platform = parseExposition(
      await clustered.renderPlatform([
        { node: 'n1', state: 'up', snapshot },
        { node: 'n2', state: 'up', snapshot: other },
        { node: 'n3', state: 'down' },
      ]),
    );
    assert.equal(find(platform, 'appvisor_app_cpu_percent', { node: 'n2' })[0]?.value, 50);
    assert.equal(find(platform, 'appvisor_app_cpu_percent', { node: 'n3' }).length, 0);
    assert.equal(find(platform, 'appvisor_cluster_nodes', { state: 'up' })[0]?.value, 2);
    assert.equal(find(platform, 'appvisor_cluster_nodes', { state: 'down' })[0]?.value, 1);
    assert.equal(find(platform, 'appvisor_cluster_node_answered', { node: 'n3' })[0]?.value, 0);
    assert.equal(find(platform, 'appvisor_cluster_instances')[0]?.value, 3);
    assert.equal(find(platform, 'appvisor_cluster_instances_ready')[0]?.value, 2);
    assert.equal(find(platform, 'appvisor_cluster_app_cpu_percent', { app: 'web' })[0]?.value, 200);
    assert.equal(find(platform, 'appvisor_cluster_app_rss_bytes', { app: 'web' })[0]?.value, 3e8);
    assert.equal(find(platform, 'appvisor_cluster_memory_total_bytes')[0]?.value, 2 * 4e9);
    // This node's own text is still its own after a platform scrape.
    const again = parseExposition(await clustered.render());
    assert.equal(find(again, 'appvisor_app_cpu_percent').length, 1);
  });

  test('the metrics listener accepts loopback only, unless allowed', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464', false), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:9464', false), { host: '::1', port: 9464 });
    assert.throws(() => parseListen('0.0.0.0:9464', false), /not a loopback/);
    assert.deepEqual(parseListen('0.0.0.0:9464', true), { host: '0.0.0.0', port: 9464 });
    assert.throws(() => parseListen('9464', false), /not host:port/);
  });
});
