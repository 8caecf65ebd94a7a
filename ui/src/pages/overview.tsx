import { call, type InstanceList, type StatusReport } from '../api.js';
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

          <h2>Alarms</h2>
          {report.alarms.length === 0 ? (
            <p class="quiet" data-testid="no-alarms">
              No active alarms.
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
        </>
      )}
    </section>
  );
}
