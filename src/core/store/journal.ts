import type { Store } from './store.js';

/** One operation in the journal: what it is, what it is about, how far it got. */
export interface JournalEntry<D = Record<string, unknown>> {
  kind: string;
  subject: string;
  step: string;
  data: D;
  startedAt: Date;
}

/**
 * A durable record of operations that span several systems (the database server, the file
 * system, the store), written before each step so that the next start after a crash can finish
 * or undo what was cut off (table `operations`). One entry per kind and subject at a time.
 */
export class Journal {
  readonly #store: Pick<Store, 'query'>;
  readonly #nodeId: string;

  constructor(store: Pick<Store, 'query'>, nodeId: string) {
    this.#store = store;
    this.#nodeId = nodeId;
  }

  /**
   * Records that an operation starts at `step`. An entry of the same kind and subject left
   * over is replaced: its owner finished or undid it before starting another.
   */
  async begin(kind: string, subject: string, step: string, data: object): Promise<void> {
    await this.#store.query(
      `INSERT INTO operations (node_id, kind, subject, step, data) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (node_id, kind, subject)
       DO UPDATE SET step = $4, data = $5, started_at = now(), updated_at = now()`,
      [this.#nodeId, kind, subject, step, JSON.stringify(data)],
    );
  }

  /** Records that the operation reached `step`. */
  async step(kind: string, subject: string, step: string): Promise<void> {
    await this.#store.query(
      'UPDATE operations SET step = $4, updated_at = now() WHERE node_id = $1 AND kind = $2 AND subject = $3',
      [this.#nodeId, kind, subject, step],
    );
  }

  /** Removes the entry: the operation is complete or undone. */
  async end(kind: string, subject: string): Promise<void> {
    await this.#store.query(
      'DELETE FROM operations WHERE node_id = $1 AND kind = $2 AND subject = $3',
      [this.#nodeId, kind, subject],
    );
  }

  /** The entries of `kind` a crash left, oldest first. */
  async pending<D = Record<string, unknown>>(kind: string): Promise<JournalEntry<D>[]> {
    const rows = await this.#store.query<{
      kind: string;
      subject: string;
      step: string;
      data: D;
      started_at: Date;
    }>(
      'SELECT kind, subject, step, data, started_at FROM operations WHERE node_id = $1 AND kind = $2 ORDER BY started_at',
      [this.#nodeId, kind],
    );
    return rows.rows.map((row) => ({
      kind: row.kind,
      subject: row.subject,
      step: row.step,
      data: row.data,
      startedAt: row.started_at,
    }));
  }
}
