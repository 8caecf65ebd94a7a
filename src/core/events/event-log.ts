import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { WriteBehind } from '../../lib/write-behind.js';
import type { Store } from '../store/index.js';

export type Severity = 'info' | 'warning' | 'error' | 'critical';

/** Something that happened on this node that an admin may want to see later. */
export interface ManagerEvent {
  at: string;
  kind: string;
  severity: Severity;
  /** What it is about: an app id, an instance id, `database`, ... */
  subject: string;
  text: string;
}

/** Options of {@link EventLog}. */
export interface EventLogOptions {
  logger: Logger;
  nodeId: string;
  now?: () => Date;
  /** Events kept in memory for listing while the store is unreachable. */
  memory?: number;
}

const maxPending = 1000;

/**
 * The node's event history: every event is logged at once, kept in memory, and written to
 * the store — later, in order, when the store is not reachable at that moment. Alarms live in
 * the alarms subsystem, which records each raise and clear here as an event too.
 */
export class EventLog implements Component {
  readonly name = 'events';
  readonly #options: EventLogOptions;
  readonly #recent: ManagerEvent[] = [];
  readonly #listeners = new Set<(event: ManagerEvent) => void>();
  readonly #queue: WriteBehind<ManagerEvent, Store>;

  constructor(options: EventLogOptions) {
    this.#options = options;
    this.#queue = new WriteBehind({
      max: maxPending,
      retryMs: 10_000,
      write: (store, pending) => this.#write(store, pending),
    });
  }

  /** Starts writing to the store: what was recorded before is written first. */
  attach(store: Store): void {
    this.#queue.attach(store);
  }

  /** Stops writing to the store after writing what is pending (before the store closes). */
  async detach(): Promise<void> {
    await this.#queue.detach();
  }

  async start(): Promise<void> {
    this.#queue.start();
    await Promise.resolve();
  }

  /** Records an event. Never throws and never waits for the store. */
  record(event: Omit<ManagerEvent, 'at'> & { at?: string }): ManagerEvent {
    const full: ManagerEvent = {
      ...event,
      at: event.at ?? (this.#options.now?.() ?? new Date()).toISOString(),
    };
    const level =
      full.severity === 'info' ? 'info' : full.severity === 'warning' ? 'warn' : 'error';
    this.#options.logger[level]({ event: full.kind, subject: full.subject }, full.text);
    this.#recent.push(full);
    const memory = this.#options.memory ?? 1000;
    if (this.#recent.length > memory) this.#recent.splice(0, this.#recent.length - memory);
    // When the store has been away for long, the oldest unsaved event goes (it was logged).
    this.#queue.push(full);
    for (const listener of this.#listeners) {
      try {
        listener(full);
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'an event listener failed');
      }
    }
    return full;
  }

  /**
   * Calls `listener` with every event recorded from now on (`appvisor events --follow`);
   * returns what stops it. A listener that throws is logged and kept.
   */
  subscribe(listener: (event: ManagerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The newest events, newest first: from the store when it answers, else from memory. */
  async list(limit: number): Promise<ManagerEvent[]> {
    const store = this.#queue.target;
    if (store) {
      try {
        await this.#queue.settled();
        const result = await store.query<ManagerEvent>(
          `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                  kind, severity, subject, text
             FROM events WHERE node_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
          [this.#options.nodeId, limit],
        );
        const stored = result.rows;
        // Events still waiting for the store are newer than any stored one.
        return [...[...this.#queue.pending].reverse(), ...stored].slice(0, limit);
      } catch {
        // the store is down: memory is all there is
      }
    }
    return [...this.#recent].reverse().slice(0, limit);
  }

  /** Writes the first 100 pending events in one statement. */
  async #write(store: Store, pending: readonly ManagerEvent[]): Promise<number> {
    const batch = pending.slice(0, 100);
    await store.query(
      `INSERT INTO events (node_id, at, kind, severity, subject, text)
       SELECT $1, * FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])`,
      [
        this.#options.nodeId,
        batch.map((e) => e.at),
        batch.map((e) => e.kind),
        batch.map((e) => e.severity),
        batch.map((e) => e.subject),
        batch.map((e) => e.text),
      ],
    );
    return batch.length;
  }

  readonly close = once(async () => {
    await this.#queue.close();
  });

  destroy(): void {
    this.#queue.destroy();
  }
}
