import type { ComponentChildren } from 'preact';
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
import { InlineField, Link, PageHeading } from '../components.js';
import { bytes, dateTime, duration } from '../format.js';
import { usePoll, type Polled } from '../hooks.js';
import { NodesCard } from './nodes-card.js';

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

/** The charts of a history: the machine's, scaled to its totals, and each app's. */
function charts(data: MonitorHistory, report: StatusReport) {
  const machine = (name: string, label: string): Line[] => {
    const series = data.series.find((s) => s.name === name);
    return series ? [{ label, values: series.avg }] : [];
  };
  const { memory, disk } = report.system;
  return [
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
  ];
}

/** The sampling interval of the monitor (10 s when it cannot be read), once known. */
function useSampleInterval(): number | undefined {
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
  return interval;
}

/** CPU, memory and disk of the machine and CPU and memory of each app over a chosen period. */
function Graphs(props: { report: StatusReport }) {
  const [period, setPeriod] = useState<number>(periods[1].ms);
  const interval = useSampleInterval();
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
  return (
    <section aria-labelledby="graphs-title" class="graphs">
      <div class="heading">
        <h2 id="graphs-title">Graphs</h2>
        <InlineField id="graphs-period" label="Period">
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
        </InlineField>
      </div>
      {history.error && <p class="error">The history did not load: {history.error}</p>}
      {data && (
        <div class="charts">
          {charts(data, props.report).map((chart) => (
            <Chart key={chart.id} {...chart} times={data.times} />
          ))}
        </div>
      )}
    </section>
  );
}

/** A state as a badge: `ok` when it is the good one, else `otherwise`. */
function StateStat(props: {
  title: string;
  state: string;
  otherwise: 'warn' | 'bad';
  children: ComponentChildren;
}) {
  return (
    <div class="stat">
      <h3>{props.title}</h3>
      <p class="figure">
        <span class={`badge ${props.state === 'running' ? 'ok' : props.otherwise}`}>
          {props.state}
        </span>
      </p>
      <p class="detail">{props.children}</p>
    </div>
  );
}

/** The manager, the database, and CPU, memory and disk now. */
function StatusGrid(props: { report: StatusReport }) {
  const { manager, database, system } = props.report;
  return (
    <div class="grid">
      <StateStat title="Manager" state={manager.state} otherwise="warn">
        version {manager.version}, up {duration(manager.uptimeSeconds)}, pid {manager.pid}
      </StateStat>
      <StateStat title="Database" state={database.state} otherwise="bad">
        {database.mode} PostgreSQL {database.version ?? ''}
        {database.restarts ? `, ${database.restarts} restarts` : ''}
      </StateStat>
      <Meter
        label="CPU"
        percent={system.cpu.percent}
        text={`${system.cpu.cores} cores, load ${system.load.map((l) => l.toFixed(2)).join(' ')}`}
      />
      <Meter
        label="Memory"
        percent={system.memory.percent}
        text={`${bytes(system.memory.usedBytes)} of ${bytes(system.memory.totalBytes)} used`}
      />
      <Meter
        label="Disk"
        percent={system.disk.percent}
        text={`${bytes(system.disk.freeBytes)} free of ${bytes(system.disk.totalBytes)}`}
      />
    </div>
  );
}

/** The active alarms, or that there are none. */
function OverviewAlarms(props: { alarms: StatusReport['alarms'] }) {
  return (
    <>
      <h2>
        <Link to="/alarms">Alarms</Link>
      </h2>
      {props.alarms.length === 0 ? (
        <p class="quiet" data-testid="no-alarms">
          No active alarms. <Link to="/alarms">See the history</Link>.
        </p>
      ) : (
        <ul class="alarms">
          {props.alarms.map((alarm) => (
            <li key={`${alarm.code}-${alarm.subject}`} class={`alarm ${alarm.severity}`}>
              <strong>{alarm.severity}</strong> <code>{alarm.code}</code> {alarm.subject}:{' '}
              {alarm.text} <span class="quiet">since {dateTime(alarm.since)}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** How many apps (by state) and instances (ready) there are. */
function Counts(props: { report: StatusReport; instances: Polled<InstanceList> }) {
  const { report } = props;
  const list = props.instances.data?.instances;
  const appCounts = new Map<string, number>();
  for (const app of report.apps) {
    const state = app.runnable ? app.state : 'not runnable';
    appCounts.set(state, (appCounts.get(state) ?? 0) + 1);
  }
  const ready = list?.filter((i) => i.state === 'ready').length ?? 0;
  return (
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
        <p class="detail">{list ? `${ready} ready` : (props.instances.error ?? 'loading')}</p>
      </div>
    </div>
  );
}

/** The platform at a glance: manager, database, resources, alarms, apps and instances. */
export function OverviewPage() {
  const status = usePoll(() => call<StatusReport>('GET', '/status'), 3000);
  const instances = usePoll(() => call<InstanceList>('GET', '/instances'), 5000);
  const report = status.data;
  const updates = report?.updates.updates.length ?? 0;

  return (
    <section aria-labelledby="overview-title">
      <PageHeading id="overview-title" at={status.at} error={status.error}>
        Overview
      </PageHeading>
      {report && (
        <>
          <StatusGrid report={report} />
          <OverviewAlarms alarms={report.alarms} />
          <NodesCard />
          {updates > 0 && (
            <p class="info" data-testid="updates-available">
              <Link to="/store">
                {`${updates} app update${updates === 1 ? '' : 's'} available`}
              </Link>
            </p>
          )}
          <Counts report={report} instances={instances} />
          <Graphs report={report} />
        </>
      )}
    </section>
  );
}
