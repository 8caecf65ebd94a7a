import { useState } from 'preact/hooks';
import { call, type AlarmHistoryReport, type AlarmsReport } from '../api.js';
import { ErrorText, InlineField, ListTable, PageHeading, SeverityBadge } from '../components.js';
import { dateTime, relative } from '../format.js';
import { usePoll } from '../hooks.js';
import { DiskCard } from './disk-card.js';

/** How many raises and clears the history shows. */
const historyLimit = 200;

/** Whether an alarm's code, subject or node contains the filter text (any case). */
function matches(alarm: { code: string; subject: string; node?: string }, filter: string): boolean {
  const text = filter.trim().toLowerCase();
  return (
    text === '' ||
    alarm.code.toLowerCase().includes(text) ||
    alarm.subject.toLowerCase().includes(text) ||
    (alarm.node?.toLowerCase().includes(text) ?? false)
  );
}

/** The active alarms, newest first. */
function ActiveAlarms(props: { alarms: AlarmsReport['alarms'] }) {
  const nodes = props.alarms.some((alarm) => alarm.node !== undefined);
  return (
    <ListTable
      labelledBy="active-title"
      testId="active-alarms"
      columns={['Severity', 'Code', 'Subject', ...(nodes ? ['Node'] : []), 'Text', 'Since']}
    >
      {props.alarms.map((alarm) => (
        <tr key={`${alarm.code}\n${alarm.subject}\n${alarm.node ?? ''}`}>
          <td data-label="Severity">
            <SeverityBadge severity={alarm.severity} />
          </td>
          <th scope="row" data-label="Code">
            <code>{alarm.code}</code>
          </th>
          <td data-label="Subject">{alarm.subject}</td>
          {nodes && <td data-label="Node">{alarm.node}</td>}
          <td data-label="Text">{alarm.text}</td>
          <td data-label="Since">
            {dateTime(alarm.since)} <span class="quiet">({relative(alarm.since)})</span>
          </td>
        </tr>
      ))}
    </ListTable>
  );
}

/** Raises and clears, newest first. */
function AlarmHistory(props: { changes: AlarmHistoryReport['history'] }) {
  const nodes = props.changes.some((change) => change.node !== undefined);
  return (
    <ListTable
      labelledBy="history-title"
      testId="alarm-history"
      columns={['Time', 'Event', 'Severity', 'Code', 'Subject', ...(nodes ? ['Node'] : []), 'Text']}
    >
      {props.changes.map((change, index) => (
        <tr key={`${change.at}\n${change.code}\n${change.subject}\n${index}`}>
          <th scope="row" data-label="Time">
            {dateTime(change.at)}
          </th>
          <td data-label="Event">
            <span class={`badge ${change.action === 'raised' ? 'warn' : 'ok'}`}>
              {change.action}
            </span>
          </td>
          <td data-label="Severity">
            <SeverityBadge severity={change.severity} />
          </td>
          <td data-label="Code">
            <code>{change.code}</code>
          </td>
          <td data-label="Subject">{change.subject}</td>
          {nodes && <td data-label="Node">{change.node}</td>}
          <td data-label="Text">{change.text}</td>
        </tr>
      ))}
    </ListTable>
  );
}

/**
 * The active alarms and the history of raises and clears, newest first, with a filter; below
 * them the disk with its reserve, and the diagnostics download.
 */
export function AlarmsPage() {
  const active = usePoll(() => call<AlarmsReport>('GET', '/alarms'), 3000);
  const history = usePoll(
    () => call<AlarmHistoryReport>('GET', `/alarms/history?limit=${historyLimit}`),
    5000,
  );
  const [filter, setFilter] = useState('');
  const alarms = active.data?.alarms
    .filter((alarm) => matches(alarm, filter))
    .sort((a, b) => b.since.localeCompare(a.since));
  const changes = history.data?.history.filter((change) => matches(change, filter));
  const filtered = filter.trim() ? ' matching the filter' : '';

  return (
    <section aria-labelledby="alarms-title">
      <PageHeading id="alarms-title" at={active.at} error={active.error}>
        Alarms
      </PageHeading>
      <InlineField id="alarms-filter" label="Filter by code or subject">
        <input
          id="alarms-filter"
          type="search"
          value={filter}
          onInput={(event) => {
            setFilter(event.currentTarget.value);
          }}
        />
      </InlineField>

      <h2 id="active-title">Active</h2>
      {alarms && alarms.length === 0 && (
        <p class="quiet" data-testid="no-active-alarms">
          No active alarms{filtered}.
        </p>
      )}
      {alarms && alarms.length > 0 && <ActiveAlarms alarms={alarms} />}

      <div class="heading">
        <h2 id="history-title">History</h2>
        <p class="quiet">the latest {historyLimit} raises and clears, newest first</p>
      </div>
      <ErrorText message={history.error && `Cannot load the history: ${history.error}`} />
      {changes && changes.length === 0 && (
        <p class="quiet" data-testid="no-alarm-history">
          No alarm raised or cleared yet{filtered}.
        </p>
      )}
      {changes && changes.length > 0 && <AlarmHistory changes={changes} />}

      <DiskCard />
    </section>
  );
}
