import { once, type Component } from '../../lib/lifecycle.js';
import { WriteBehind } from '../../lib/write-behind.js';
import type { Logger } from '../../lib/logger.js';
import type { EventLog, Severity } from '../events/index.js';
import type { Store } from '../store/index.js';

/** An alarm that is raised and not yet cleared. */
export interface ActiveAlarm {
  code: string;
  severity: Severity;
  /** What it is about: an app id, an instance id, `database`, `disk`, ... */
  subject: string;
  text: string;
  since: string;
  /** On a cluster, in the platform's list: the node that raised it. */
  node?: string;
}

/** One raise or clear, as kept in the alarm history. */
export interface AlarmChange {
  at: string;
  action: 'raised' | 'cleared';
  code: string;
  severity: Severity;
  subject: string;
  text: string;
  /** On a cluster, in the platform's history: the node that raised or cleared it. */
  node?: string;
}

/** What the parts that detect trouble need: raise and clear. */
export interface AlarmRaiser {
  /** Raises an alarm (again: the text and severity are updated, the start time kept). */
  raise(code: string, severity: Severity, text: string, subject?: string): void;
  /** Clears an alarm; nothing happens when it is not raised. */
  clear(code: string, text: string, subject?: string): void;
  /** Alarms raised and not cleared, those left by the manager's previous run included. */
  active(): ActiveAlarm[];
}

/** What {@link reconcileAlarms} needs to know of one owner of alarms. */
export interface AlarmOwner {
  /** Whether the owner raises and clears this alarm. */
  owns(alarm: ActiveAlarm): boolean;
  /** Whether what the owner knows now still makes this alarm true (it takes it over). */
  holds(alarm: ActiveAlarm): boolean;
  /** The text of the clear of an alarm it does not hold. */
  why(alarm: ActiveAlarm): string;
}

/**
 * Brings the stored alarms of one owner in line with what it knows. The active alarms survive
 * a restart in the store, while what their owner knew (a supervisor's count of failures, the
 * apps installed) starts afresh: an alarm it raised and no longer holds would never be cleared.
 * Each owner calls this at its start, once the store's alarms are loaded: the alarms it owns
 * and does not hold are cleared; those it holds are answered, for it to take over (so that
 * what clears them in memory clears them again).
 */
export function reconcileAlarms(alarms: AlarmRaiser, owner: AlarmOwner): ActiveAlarm[] {
  const held: ActiveAlarm[] = [];
  for (const alarm of alarms.active()) {
    if (!owner.owns(alarm)) continue;
    if (owner.holds(alarm)) held.push(alarm);
    else alarms.clear(alarm.code, owner.why(alarm), alarm.subject);
  }
  return held;
}

/** Options of {@link AlarmService}. */
export interface AlarmServiceOptions {
  logger: Logger;
  events: EventLog;
  nodeId: string;
  /**
   * Whether this node is one of a cluster's: the lists of {@link AlarmService.listed} and
   * {@link AlarmService.history} are then the platform's, each alarm naming its node.
   */
  cluster?: boolean;
  now?: () => Date;
}

type Operation =
  | { kind: 'raise'; alarm: ActiveAlarm; history: AlarmChange | null }
  | { kind: 'clear'; change: AlarmChange };

const maxPending = 1000;
const memoryHistory = 1000;
const keyOf = (code: string, subject: string) => `${code}\0${subject}`;

/**
 * The one source of truth for alarms. The active ones live in memory, so raising and clearing
 * never waits for (or fails with) the store; every change is written to the store in order —
 * the `alarms` table holds the active ones, so they survive a restart, and `alarm_history`
 * every raise and clear. Changes made while the store is away are written once it is back.
 * Each change is also recorded in the event log and handed to the listeners (notifications).
 */
export class AlarmService implements Component, AlarmRaiser {
  readonly name = 'alarms';
  readonly #options: AlarmServiceOptions;
  readonly #active = new Map<string, ActiveAlarm>();
  readonly #queue: WriteBehind<Operation, Store>;
  readonly #recent: AlarmChange[] = [];
  readonly #listeners = new Set<(change: AlarmChange) => void>();

  constructor(options: AlarmServiceOptions) {
    this.#options = options;
    this.#queue = new WriteBehind({
      max: maxPending,
      retryMs: 10_000,
      write: async (store, pending) => {
        if (pending[0]) await this.#write(store, pending[0]);
        return 1;
      },
    });
  }

  async start(): Promise<void> {
    this.#queue.start();
    await Promise.resolve();
  }

  /**
   * Starts writing to the store. The alarms still active when the manager last stopped are
   * loaded first; those raised or cleared since this start win over them.
   */
  async attach(store: Store): Promise<void> {
    const result = await store.query<ActiveAlarm>(
      `SELECT code, severity, subject, text,
              to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS since
         FROM alarms WHERE node_id = $1`,
      [this.#options.nodeId],
    );
    const touched = new Set(
      this.#queue.pending.map((op) =>
        op.kind === 'raise'
          ? keyOf(op.alarm.code, op.alarm.subject)
          : keyOf(op.change.code, op.change.subject),
      ),
    );
    for (const row of result.rows) {
      const key = keyOf(row.code, row.subject);
      if (touched.has(key)) {
        // Raised again since the start: keep the older start time.
        const current = this.#active.get(key);
        if (current && row.since < current.since) current.since = row.since;
        continue;
      }
      this.#active.set(key, row);
    }
    this.#queue.attach(store);
  }

  /** Stops writing to the store after writing what is pending (before the store closes). */
  async detach(): Promise<void> {
    await this.#queue.detach();
  }

  /** Calls `listener` with every raise and clear from now on. */
  onChange(listener: (change: AlarmChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  raise(code: string, severity: Severity, text: string, subject = ''): void {
    const key = keyOf(code, subject);
    const existing = this.#active.get(key);
    const at = this.#now();
    const alarm: ActiveAlarm = { code, severity, subject, text, since: existing?.since ?? at };
    this.#active.set(key, alarm);
    if (existing && existing.severity === severity && existing.text === text) return;
    const change: AlarmChange | null = existing
      ? null
      : { at, action: 'raised', code, severity, subject, text };
    this.#enqueue({ kind: 'raise', alarm, history: change });
    if (change) {
      this.#options.events.record({ kind: `alarm.raised.${code}`, severity, subject, text, at });
      this.#emit(change);
    }
  }

  clear(code: string, text: string, subject = ''): void {
    const key = keyOf(code, subject);
    const existing = this.#active.get(key);
    if (!existing) return;
    this.#active.delete(key);
    const at = this.#now();
    const change: AlarmChange = {
      at,
      action: 'cleared',
      code,
      severity: existing.severity,
      subject,
      text,
    };
    this.#enqueue({ kind: 'clear', change });
    this.#options.events.record({
      kind: `alarm.cleared.${code}`,
      severity: 'info',
      subject,
      text,
      at,
    });
    this.#emit(change);
  }

  /** Alarms raised and not cleared, oldest first. */
  active(): ActiveAlarm[] {
    return [...this.#active.values()]
      .map((alarm) => ({ ...alarm }))
      .sort((a, b) => a.since.localeCompare(b.since));
  }

  /**
   * The alarms the admin sees, oldest first: this node's; on a cluster also every other node's
   * as the store holds them (a node that is down shows what it had when it went; one stopped
   * by its admin shows none until it starts again), each with its node. When the store does
   * not answer, this node's only.
   */
  async listed(): Promise<ActiveAlarm[]> {
    const { nodeId, cluster } = this.#options;
    if (!cluster) return this.active();
    const own = this.active().map((alarm) => ({ ...alarm, node: nodeId }));
    const store = this.#queue.target;
    if (!store) return own;
    try {
      const others = await store.query<ActiveAlarm>(
        `SELECT a.code, a.severity, a.subject, a.text, a.node_id AS node,
                to_char(a.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS since
           FROM alarms a JOIN nodes n ON n.node_id = a.node_id
          WHERE a.node_id <> $1 AND n.stopped_at IS NULL`,
        [nodeId],
      );
      return [...own, ...others.rows].sort(
        (a, b) => a.since.localeCompare(b.since) || (a.node ?? '').localeCompare(b.node ?? ''),
      );
    } catch {
      return own;
    }
  }

  /**
   * The newest raises and clears, newest first: from the store when it answers, else memory.
   * On a cluster the platform's, each naming its node (see {@link listed}).
   */
  async history(limit: number): Promise<AlarmChange[]> {
    const { nodeId, cluster } = this.#options;
    const mark = (change: AlarmChange) => (cluster ? { ...change, node: nodeId } : change);
    const store = this.#queue.target;
    if (store) {
      try {
        await this.#queue.settled();
        const columns = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                         action, code, severity, subject, text`;
        const result = cluster
          ? await store.query<AlarmChange>(
              `SELECT ${columns}, node_id AS node
                 FROM alarm_history ORDER BY at DESC, id DESC LIMIT $1`,
              [limit],
            )
          : await store.query<AlarmChange>(
              `SELECT ${columns}
                 FROM alarm_history WHERE node_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
              [nodeId, limit],
            );
        const waiting = this.#queue.pending
          .map((op) => (op.kind === 'raise' ? op.history : op.change))
          .filter((change): change is AlarmChange => change !== null)
          .reverse()
          .map(mark);
        return [...waiting, ...result.rows].slice(0, limit);
      } catch {
        // the store is down: memory is all there is
      }
    }
    return [...this.#recent].reverse().slice(0, limit).map(mark);
  }

  #now(): string {
    return (this.#options.now?.() ?? new Date()).toISOString();
  }

  #emit(change: AlarmChange): void {
    this.#recent.push(change);
    if (this.#recent.length > memoryHistory) this.#recent.shift();
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#options.logger.error({ err: error }, 'an alarm listener failed');
      }
    }
  }

  #enqueue(op: Operation): void {
    // When the store has been away for long, the oldest unsaved change goes (it was logged).
    this.#queue.push(op);
  }

  /** Writes one change: the active alarm (or its removal) and its history row, together. */
  async #write(store: Store, op: Operation): Promise<void> {
    const nodeId = this.#options.nodeId;
    await store.transaction(async (query) => {
      if (op.kind === 'raise') {
        const { code, subject, severity, text, since } = op.alarm;
        await query(
          `INSERT INTO alarms (node_id, code, subject, severity, text, since)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (node_id, code, subject)
           DO UPDATE SET severity = excluded.severity, text = excluded.text`,
          [nodeId, code, subject, severity, text, since],
        );
      } else {
        await query('DELETE FROM alarms WHERE node_id = $1 AND code = $2 AND subject = $3', [
          nodeId,
          op.change.code,
          op.change.subject,
        ]);
      }
      const change = op.kind === 'raise' ? op.history : op.change;
      if (change) {
        await query(
          `INSERT INTO alarm_history (node_id, at, action, code, subject, severity, text)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            nodeId,
            change.at,
            change.action,
            change.code,
            change.subject,
            change.severity,
            change.text,
          ],
        );
      }
    });
  }

  readonly close = once(async () => {
    await this.#queue.close();
  });

  destroy(): void {
    this.#queue.destroy();
  }
}

/** Options of {@link CertificateWatch}. */
export interface CertificateWatchOptions {
  alarms: AlarmRaiser;
  /** The front certificate's subject and end of validity (ISO time). */
  certificate: () => { subject: string; validTo: string };
  /** Raised this long before the end of validity. */
  warnMs?: number;
  periodMs?: number;
  now?: () => Date;
}

/**
 * Raises `cert-expiring` 30 days before the front certificate expires (critical once it has),
 * checking at start, daily, and whenever {@link CertificateWatch.check} is called (a new
 * certificate); clears it once a certificate valid for longer is in place.
 */
export class CertificateWatch implements Component {
  readonly name = 'cert-watch';
  readonly #options: CertificateWatchOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CertificateWatchOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    this.check();
    this.#timer = setInterval(
      () => {
        this.check();
      },
      this.#options.periodMs ?? 24 * 3600_000,
    );
    this.#timer.unref();
    await Promise.resolve();
  }

  /** Compares the certificate's end of validity with now; raises or clears. */
  check(): void {
    const { alarms, certificate } = this.#options;
    const { subject, validTo } = certificate();
    const now = (this.#options.now?.() ?? new Date()).getTime();
    const end = new Date(validTo).getTime();
    const days = Math.floor((end - now) / 86_400_000);
    if (end - now < (this.#options.warnMs ?? 30 * 86_400_000)) {
      alarms.raise(
        'cert-expiring',
        end <= now ? 'critical' : 'warning',
        end <= now
          ? `the front certificate (${subject}) expired on ${validTo}`
          : `the front certificate (${subject}) expires on ${validTo}, in ${days} days`,
        'front',
      );
    } else {
      alarms.clear('cert-expiring', `the front certificate is valid until ${validTo}`, 'front');
    }
  }

  readonly close = once(async () => {
    clearInterval(this.#timer);
    await Promise.resolve();
  });

  destroy(): void {
    clearInterval(this.#timer);
  }
}
