/**
 * `npm run bench -- cluster [--quick] [--lease S]`: three managers on one PostgreSQL on this
 * machine (docs/cluster.md).
 *
 * 1. Cross-node proxy: GETs of an instance on node C through C's own front and through A's,
 *    which forwards them; the ratio is what forwarding costs.
 * 2. Takeover: `kill -9` of the node that owns an instance, then the time from its lease's end
 *    (read from the store) until the instance answers through another front; the node is
 *    started again before the next kill. 20 kills (5 with --quick).
 * 3. 1,000 instances (100 with --quick) created through node A and placed over the three:
 *    create time, how they spread, time until all are ready, each manager's memory.
 *
 * Every part is bounded in count and time; everything listens on loopback only.
 */
import { Agent, request } from 'node:http';
import type { InstanceView } from '../src/api/index.js';
import { TestCluster } from '../test/helpers/cluster.js';
import { cliOk, http, killAll, type Daemon } from '../test/helpers/daemon.js';
import { percentile, printGrid, printTable, rssMiB } from './report.js';

interface Sizes {
  gets: number;
  kills: number;
  instances: number;
}
const fullSizes: Sizes = { gets: 20_000, kills: 20, instances: 1000 };
const quickSizes: Sizes = { gets: 2_000, kills: 5, instances: 100 };

/** `concurrency` loops of GETs of `url` until `total` are done; their latencies (ms). */
async function gets(url: string, total: number, concurrency = 8): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let left = total;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const began = performance.now();
      request(url, { agent }, (answer) => {
        answer.resume();
        answer.on('end', () => {
          if (answer.statusCode !== 200) reject(new Error(`GET ${url}: ${answer.statusCode}`));
          latencies.push(performance.now() - began);
          resolve();
        });
      })
        .on('error', reject)
        .end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await one();
    }),
  );
  agent.destroy();
  return latencies;
}

/** Polls until `check` gives a value (every 50 ms, each try bounded by 2 s), or throws. */
async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;

export async function cluster(): Promise<void> {
  const args = process.argv.slice(3);
  const sizes = args.includes('--quick') ? quickSizes : fullSizes;
  const leaseAt = args.indexOf('--lease');
  const lease = leaseAt >= 0 ? Number(args[leaseAt + 1]) : 4;
  const keepAlive = setInterval(() => undefined, 1000);
  // Each instance's service holds a connection or two while it starts: room for 1,000.
  const test = await TestCluster.create(3000);
  try {
    const names = ['a', 'b', 'c'];
    const nodes: Daemon[] = [];
    for (const name of names) {
      if (nodes[0]) await test.prepare(name, nodes[0]);
      nodes.push(await test.start(name, ['--set', `cluster.leaseSeconds=${lease}`]));
    }
    const ids = await test.withEcho(nodes);
    const [a, , c] = nodes as [Daemon, Daemon, Daemon];

    // 1. Cross-node proxy.
    await cliOk(
      a,
      'instance',
      'create',
      'echo',
      'p',
      '--domain',
      'bench.example',
      '--node',
      ids.get(c)!,
    );
    await until(async () => {
      const got = await http('GET', { url: c.httpUrl }, '/bench.example/p/count');
      return got.status === 200 ? true : undefined;
    }, 30_000);
    await gets(`${c.httpUrl}/bench.example/p/count`, 500);
    await gets(`${a.httpUrl}/bench.example/p/count`, 500);
    const rows: string[][] = [];
    const rates: Record<string, number> = {};
    for (const [label, daemon] of [
      ['local (C → its instance)', c],
      ['forwarded (A → C)', a],
    ] as const) {
      const began = performance.now();
      const latencies = await gets(`${daemon.httpUrl}/bench.example/p/count`, sizes.gets);
      const seconds = (performance.now() - began) / 1000;
      rates[label] = sizes.gets / seconds;
      rows.push([
        label,
        `${Math.round(sizes.gets / seconds)}`,
        ms(percentile(latencies, 50)),
        ms(percentile(latencies, 99)),
      ]);
    }
    printGrid(
      `Cross-node proxy: ${sizes.gets} GETs, 8 at a time`,
      ['path', 'req/s', 'p50', 'p99'],
      rows,
    );
    const ratio = rates['forwarded (A → C)']! / rates['local (C → its instance)']!;
    process.stdout.write(`forwarded ÷ local: ${ratio.toFixed(2)}×\n`);
    await cliOk(a, 'instance', 'delete', 'p', '--yes');

    // 2. Takeover.
    const takeovers: number[] = [];
    const byKill: number[] = [];
    for (let round = 0; round < sizes.kills; round++) {
      const victim = nodes[round % 3]!;
      const watcher = nodes[(round + 1) % 3]!;
      const id = `t${round}`;
      await cliOk(
        watcher,
        'instance',
        'create',
        'echo',
        id,
        '--domain',
        'bench.example',
        '--node',
        ids.get(victim)!,
      );
      await until(async () => {
        const got = await http('GET', { url: watcher.httpUrl }, `/bench.example/${id}/count`);
        return got.status === 200 ? true : undefined;
      }, 30_000);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      await killAll(victim.data);
      const [leaseRow] = await test.server.superQuery(
        [`SELECT lease_until FROM nodes WHERE node_id = '${ids.get(victim)!}'`],
        'appvisor',
      );
      const leaseEnd = (leaseRow!.rows[0] as { lease_until: Date }).lease_until.getTime();
      await until(async () => {
        const got = await fetch(`${watcher.httpUrl}/bench.example/${id}/count`, {
          signal: AbortSignal.timeout(2_000),
        });
        return got.status === 200 ? true : undefined;
      }, 120_000);
      const answeredAt = Date.now();
      takeovers.push(answeredAt - leaseEnd);
      byKill.push(answeredAt - killedAt);
      const name = names[nodes.indexOf(victim)]!;
      const back = await test.start(name, ['--set', `cluster.leaseSeconds=${lease}`]);
      nodes[nodes.indexOf(victim)] = back;
      ids.set(back, ids.get(victim)!);
      ids.delete(victim);
      await cliOk(back, 'instance', 'delete', id, '--yes');
    }
    printTable(`Takeover after kill -9 (${sizes.kills} kills, lease ${lease} s)`, [
      ['after the lease ran out, p50', ms(percentile(takeovers, 50))],
      ['after the lease ran out, p99', ms(percentile(takeovers, 99))],
      ['after the kill, p50', ms(percentile(byKill, 50))],
      ['after the kill, p99', ms(percentile(byKill, 99))],
    ]);

    // 3. Many instances over three nodes.
    const first = nodes[0]!;
    const creates: number[] = [];
    const began = performance.now();
    for (let i = 0; i < sizes.instances; i++) {
      const start = performance.now();
      const made = await http('POST', { socket: first.socket }, '/manager/api/v1/instances', {
        body: { app: 'echo', id: `m${i}`, domain: 'bench.example' },
      });
      if (made.status !== 201) throw new Error(`create m${i}: ${made.text}`);
      creates.push(performance.now() - start);
    }
    const created = (performance.now() - began) / 1000;
    await until(async () => {
      const listed = await http('GET', { socket: first.socket }, '/manager/api/v1/instances');
      const views = (listed.body as { instances: InstanceView[] }).instances;
      return views.length >= sizes.instances && views.every((v) => v.state === 'ready')
        ? true
        : undefined;
    }, 600_000);
    const ready = (performance.now() - began) / 1000;
    const listed = (await http('GET', { socket: first.socket }, '/manager/api/v1/instances'))
      .body as { instances: InstanceView[] };
    const spread = new Map<string, number>();
    for (const view of listed.instances) spread.set(view.node!, (spread.get(view.node!) ?? 0) + 1);
    const memory = await Promise.all(nodes.map((daemon) => rssMiB(daemon.child.pid!)));
    printTable(`${sizes.instances} instances placed over three nodes (created through node a)`, [
      ['create p50', ms(percentile(creates, 50))],
      ['create p99', ms(percentile(creates, 99))],
      ['all created', `${created.toFixed(1)} s`],
      ['all ready', `${ready.toFixed(1)} s`],
      [
        'instances per node (a, b, c)',
        nodes.map((daemon) => String(spread.get(ids.get(daemon)!) ?? 0)).join(', '),
      ],
      ['manager RSS (a, b, c)', memory.map((mib) => `${mib.toFixed(0)} MiB`).join(', ')],
    ]);
  } finally {
    clearInterval(keepAlive);
    await test.destroy();
  }
}
