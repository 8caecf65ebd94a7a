import { useEffect, useState } from 'preact/hooks';
import {
  call,
  type InstanceList,
  type MonitorHistory,
  type MonitorSnapshot,
  type Resolution,
  type StatusReport,
} from '../api.js';
import { Chart, type Line } from '../charts.js';
import { Freshness, Link } from '../components.js';
import { bytes, dateTime, duration } from '../format.js';
import { usePoll } from '../hooks.js';

function Meter(props: { label: string; percent: number; text: string }) {
  const level = props.percent >= 90 ? 'bad' : props.percent >= 75 ? 'warn' : 'ok';
  return (
    <div class="stat">
      <h3>{props.label}</h3>
      <p class="figure">{props.percent.toFixed(0)}%</p>
      <meter
        class={level}
        min={0}
        max={100}
        low={75}
        high={90}
        optimum={0}
        value={props.percent}
        aria-label={`${props.label} ${props.percent.toFixed(0)}%`}
      />
      <p class="detail">{props.text}</p>
    </div>
  );
}

/** Periods the graphs can show. */
const periods = [
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 h', ms: 3600_000 },
  { label: '6 h', ms: 6 * 3600_000 },
  { label: '24 h', ms: 24 * 3600_000 },
] as const;

/** Bucket sizes of the history, finest first (`raw`: one point per sample). */
const buckets: [Resolution, number][] = [
  ['10s', 10_000],
  ['1m', 60_000],
  ['5m', 300_000],
  ['1h', 3600_000],
];

/** At most this many points per line: enough for a graph, little to send. */
const maxPoints = 1000;

/** The finest resolution that gives at most {@link maxPoints} over `periodMs`. */
export function resolutionFor(periodMs: number, intervalSeconds: number): Resolution {
  if (periodMs / (intervalSeconds * 1000) <= maxPoints) return 'raw';
  return buckets.find(([, size]) => periodMs / size <= maxPoints)?.[0] ?? '1h';
}

/** The lines of `app.<id>.<metric>` (each app) and of PostgreSQL's when it was measured. */
function processLines(history: MonitorHistory, metric: 'cpu' | 'rss'): Line[] {
  const lines: Line[] = [];
  for (const series of history.series) {
    const app = new RegExp(`^app\\.(.+)\\.${metric}$`).exec(series.name);
    if (app?.[1]) lines.push({ label: app[1], values: series.avg });
  }
  lines.sort((a, b) => a.label.localeCompare(b.label));
  const postgres = history.series.find((s) => s.name === `postgres.${metric}`);
  if (postgres?.avg.some((value) => value !== null))
    lines.push({ label: 'PostgreSQL', values: postgres.avg });
  return lines;
}

/** CPU, memory and disk of the machine and CPU and memory of each app over a chosen period. */
function Graphs(props: { report: StatusReport }) {
  const [period, setPeriod] = useState<number>(periods[1].ms);
  const [interval, setIntervalSeconds] = useState<number>();
  useEffect(() => {
    call<MonitorSnapshot>('GET', '/monitor').then(
      (snapshot) => {
        setIntervalSeconds(snapshot.intervalSeconds);
      },
      () => {
        // The history still loads, at the resolution of the default interval.
        setIntervalSeconds(10);
      },
    );
  }, []);
  const resolution = resolutionFor(period, interval ?? 10);
  const history = usePoll(
    () =>
      interval === undefined
        ? Promise.resolve(undefined)
        : call<MonitorHistory>(
            'GET',
            `/monitor/history?from=${Date.now() - period}&resolution=${resolution}`,
          ),
    5000,
    `${period} ${interval ?? ''}`,
  );
  const data = history.data;
  const machine = (name: string, label: string): Line[] => {
    const series = data?.series.find((s) => s.name === name);
    return series ? [{ label, values: series.avg }] : [];
  };
  const { memory, disk } = props.report.system;
  return (
    <section aria-labelledby="graphs-title" class="graphs">
      <div class="heading">
        <h2 id="graphs-title">Graphs</h2>
        <div class="field inline-field">
          <label for="graphs-period">Period</label>
          <select
            id="graphs-period"
            value={String(period)}
            onChange={(event) => {
              setPeriod(Number(event.currentTarget.value));
            }}
          >
            {periods.map((p) => (
              <option key={p.ms} value={String(p.ms)}>
                {p.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {history.error && <p class="error">The history did not load: {history.error}</p>}
      {data && (
        <div class="charts">
          {[
            {
              id: 'chart-cpu',
              title: 'CPU',
              unit: 'percent' as const,
              max: 100,
              lines: machine('machine.cpu', 'busy'),
            },
            {
              id: 'chart-memory',
              title: 'Memory',
              unit: 'bytes' as const,
              max: memory.totalBytes,
              lines: machine('machine.memoryUsed', 'used'),
            },
            {
              id: 'chart-disk',
              title: 'Disk',
              unit: 'bytes' as const,
              max: disk.totalBytes,
              lines: machine('machine.diskUsed', 'used'),
            },
            {
              id: 'chart-app-cpu',
              title: 'CPU per app (of one core)',
              unit: 'percent' as const,
              lines: processLines(data, 'cpu'),
            },
            {
              id: 'chart-app-rss',
              title: 'Memory per app (resident)',
              unit: 'bytes' as const,
              lines: processLines(data, 'rss'),
            },
          ].map((chart) => (
            <Chart key={chart.id} {...chart} times={data.times} />
          ))}
        </div>
      )}
    </section>
  );
}

/** The platform at a glance: manager, database, resources, alarms, apps and instances. */
export function OverviewPage() {
  const status = usePoll(() => call<StatusReport>('GET', '/status'), 3000);
  const instances = usePoll(() => call<InstanceList>('GET', '/instances'), 5000);
  const report = status.data;
  const list = instances.data?.instances;

  const appCounts = new Map<string, number>();
  for (const app of report?.apps ?? []) {
    const state = app.runnable ? app.state : 'not runnable';
    appCounts.set(state, (appCounts.get(state) ?? 0) + 1);
  }
  const ready = list?.filter((i) => i.state === 'ready').length ?? 0;

  return (
    <section aria-labelledby="overview-title">
      <div class="heading">
        <h1 id="overview-title">Overview</h1>
        <Freshness at={status.at} error={status.error} />
      </div>
      {report && (
        <>
          <div class="grid">
            <div class="stat">
              <h3>Manager</h3>
              <p class="figure">
                <span class={`badge ${report.manager.state === 'running' ? 'ok' : 'warn'}`}>
                  {report.manager.state}
                </span>
              </p>
              <p class="detail">
                version {report.manager.version}, up {duration(report.manager.uptimeSeconds)}, pid{' '}
                {report.manager.pid}
              </p>
            </div>
            <div class="stat">
              <h3>Database</h3>
              <p class="figure">
                <span class={`badge ${report.database.state === 'running' ? 'ok' : 'bad'}`}>
                  {report.database.state}
                </span>
              </p>
              <p class="detail">
                {report.database.mode} PostgreSQL {report.database.version ?? ''}
                {report.database.restarts ? `, ${report.database.restarts} restarts` : ''}
              </p>
            </div>
            <Meter
              label="CPU"
              percent={report.system.cpu.percent}
              text={`${report.system.cpu.cores} cores, load ${report.system.load.map((l) => l.toFixed(2)).join(' ')}`}
            />
            <Meter
              label="Memory"
              percent={report.system.memory.percent}
              text={`${bytes(report.system.memory.usedBytes)} of ${bytes(report.system.memory.totalBytes)} used`}
            />
            <Meter
              label="Disk"
              percent={report.system.disk.percent}
              text={`${bytes(report.system.disk.freeBytes)} free of ${bytes(report.system.disk.totalBytes)}`}
            />
          </div>

          <h2>
            <Link to="/alarms">Alarms</Link>
          </h2>
          {report.alarms.length === 0 ? (
            <p class="quiet" data-testid="no-alarms">
              No active alarms. <Link to="/alarms">See the history</Link>.
            </p>
          ) : (
            <ul class="alarms">
              {report.alarms.map((alarm) => (
                <li key={`${alarm.code}-${alarm.subject}`} class={`alarm ${alarm.severity}`}>
                  <strong>{alarm.severity}</strong> <code>{alarm.code}</code> {alarm.subject}:{' '}
                  {alarm.text} <span class="quiet">since {dateTime(alarm.since)}</span>
                </li>
              ))}
            </ul>
          )}

          {report.updates.updates.length > 0 && (
            <p class="info" data-testid="updates-available">
              <Link to="/store">
                {`${report.updates.updates.length} app update${report.updates.updates.length === 1 ? '' : 's'} available`}
              </Link>
            </p>
          )}
          <div class="grid two">
            <div class="stat">
              <h3>
                <Link to="/apps">Apps</Link>
              </h3>
              <p class="figure" data-testid="apps-count">
                {report.apps.length}
              </p>
              <p class="detail">
                {report.apps.length === 0
                  ? 'none installed'
                  : [...appCounts].map(([state, n]) => `${n} ${state}`).join(', ')}
              </p>
            </div>
            <div class="stat">
              <h3>
                <Link to="/instances">Instances</Link>
              </h3>
              <p class="figure" data-testid="instances-count">
                {list ? list.length : '…'}
              </p>
              <p class="detail">{list ? `${ready} ready` : (instances.error ?? 'loading')}</p>
            </div>
          </div>
          <Graphs report={report} />
        </>
      )}
    </section>
  );
}
