import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { MonitorHistory, MonitorSnapshot } from '../../src/api/index.js';
import { makeAppFolder } from '../helpers/apps.js';
import {
  cli,
  eventually,
  http,
  login,
  makeTemp,
  removeTemp,
  withDaemon,
} from '../helpers/daemon.js';
import { find, parseExposition } from '../helpers/prometheus.js';

const api = '/manager/api/v1';
const mib = 1024 * 1024;

/** A child of the app's `run` process that fills 110 MiB and then spins on one core. */
const burner = `
trap 'kill $child 2>/dev/null; exit 0' TERM
'${process.execPath}' -e 'const b = Buffer.alloc(110 * 1024 * 1024, 1); let x = 0; for (;;) { x += b[x % b.length]; }' &
child=$!
echo "burning in $child"
wait $child
`;

describe('monitor: sampling, history, metrics', () => {
  const running = withDaemon({
    env: { APPVISOR_MONITOR_INTERVAL_SECONDS: '1' },
    args: ['--set', 'monitor.metricsListen=127.0.0.1:0'],
  });
  let token: string;
  let work: string | undefined;
  after(async () => {
    if (work) await removeTemp(work);
  });

  test("a busy child process shows in its app's CPU and memory", async () => {
    const { daemon } = running;
    token = await login(daemon, daemon.password!);
    work = await makeTemp();
    const folder = await makeAppFolder(work, 'burner', { run: burner });
    const install = await cli(['app', 'install', folder, '--data', daemon.data]);
    assert.equal(install.code, 0, install.stderr);
    const start = await cli(['app', 'start', 'burner', '--data', daemon.data]);
    assert.equal(start.code, 0, start.stderr);

    const seen = await eventually(
      async () => {
        const answer = await http('GET', { socket: daemon.socket }, `${api}/monitor`);
        const app = (answer.body as MonitorSnapshot).apps.find((a) => a.id === 'burner');
        return app && (app.cpuPercent ?? 0) > 50 && (app.rssBytes ?? 0) >= 100 * mib
          ? app
          : undefined;
      },
      30_000,
      'burner sampled busy and big',
    );
    assert.equal(seen.state, 'running');
    assert.ok(seen.processes >= 2, `processes: ${seen.processes}`);

    const text = await cli(['monitor', '--data', daemon.data]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^cpu\s+[\d.]+% of \d+ cores$/m);
    assert.match(text.stdout, /^burner\s+running\s+[\d.]+%\s+[\d.]+ MiB\s+\d+\s+0$/m);
    const json = await cli(['monitor', '--json', '--data', daemon.data]);
    const parsed = JSON.parse(json.stdout) as MonitorSnapshot;
    assert.equal(parsed.intervalSeconds, 1);
    assert.equal(parsed.postgres.state, 'running');
    assert.ok((parsed.postgres.rssBytes ?? 0) > 0);
    assert.ok((parsed.postgres.connections ?? 0) >= 1);
  });

  test('history returns the samples at the chosen resolution', async () => {
    const { daemon } = running;
    const get = (query: string) =>
      http('GET', { url: daemon.adminUrl }, `${api}/monitor/history?${query}`, { token });
    const raw = await get('series=machine.cpu,app.burner.rss&resolution=raw');
    assert.equal(raw.status, 200, raw.text);
    const history = raw.body as MonitorHistory;
    assert.ok(history.times.length >= 3, `samples: ${history.times.length}`);
    assert.deepEqual(
      history.series.map((s) => [s.name, s.unit]),
      [
        ['machine.cpu', 'percent'],
        ['app.burner.rss', 'bytes'],
      ],
    );
    assert.ok(history.series[1]!.max.some((v) => v !== null && v >= 100 * mib));

    const from = history.times[0]!;
    const coarse = (await get(`series=app.burner.cpu&resolution=10s&from=${from}`))
      .body as MonitorHistory;
    assert.equal(coarse.resolution, '10s');
    assert.ok(coarse.times.length >= 1 && coarse.times.length < history.times.length);
    assert.ok(coarse.times.every((t) => t % 10_000 === 0));
    assert.equal(coarse.series[0]!.avg.length, coarse.times.length);

    const all = (await get('')).body as MonitorHistory;
    assert.ok(all.series.some((s) => s.name === 'postgres.connections'));
    const bad = await get('series=app.burner.nope');
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { code: string }).code, 'BAD_REQUEST');
    assert.equal((await get('resolution=2m')).status, 400);
  });

  test('/metrics is exposition format with the app, needs a login on the API path', async () => {
    const { daemon } = running;
    const anonymous = await http('GET', { url: daemon.adminUrl }, `${api}/metrics`);
    assert.equal(anonymous.status, 401);

    const answer = await http('GET', { url: daemon.adminUrl }, `${api}/metrics`, { token });
    assert.equal(answer.status, 200, answer.text);
    assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(answer.text);
    assert.ok(find(samples, 'appvisor_app_cpu_percent', { app: 'burner' }).length === 1);
    const rss = find(samples, 'appvisor_app_rss_bytes', { app: 'burner' })[0];
    assert.ok(rss && rss.value >= 100 * mib);
    assert.equal(
      find(samples, 'appvisor_app_state', { app: 'burner', state: 'running' })[0]?.value,
      1,
    );
    assert.equal(
      find(samples, 'appvisor_app_state', { app: 'burner', state: 'stopped' })[0]?.value,
      0,
    );
    assert.equal(find(samples, 'appvisor_postgres_up')[0]?.value, 1);
    assert.ok((find(samples, 'appvisor_machine_memory_total_bytes')[0]?.value ?? 0) > 0);
  });

  test('the local metrics listener answers without a login, and only /metrics', async () => {
    const { daemon } = running;
    const url = /metrics URL: (http:\/\/\S+)\/metrics/.exec(daemon.stdout())?.[1];
    assert.ok(url, daemon.stdout());
    const answer = await http('GET', { url }, '/metrics');
    assert.equal(answer.status, 200);
    const samples = parseExposition(answer.text);
    assert.equal(find(samples, 'appvisor_app_processes', { app: 'burner' }).length, 1);
    assert.equal((await http('GET', { url }, '/manager/api/v1/status')).status, 404);
    assert.equal((await http('POST', { url }, '/metrics')).status, 405);
  });
});
