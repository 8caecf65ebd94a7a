/**
 * A write-behind queue: items are taken at once, in memory, and written to a target (the
 * store) in order, later when the target is away or failing. Used by the event log and the
 * alarms, which must never wait for (or fail with) the database.
 */

/** Options of {@link WriteBehind}. */
export interface WriteBehindOptions<T, S> {
  /**
   * Writes items from the front of `pending` (at least one) and resolves with how many it
   * wrote; they are then taken off the queue. A rejection keeps them for the next try.
   */
  write: (target: S, pending: readonly T[]) => Promise<number>;
  /** Items kept while the target is away; beyond it the oldest goes (it was logged). */
  max: number;
  /** How often a failed write is tried again without a new item. */
  retryMs: number;
}

/** A queue of items written behind, in order, to a target that may be away. */
export class WriteBehind<T, S> {
  readonly #options: WriteBehindOptions<T, S>;
  readonly #pending: T[] = [];
  #target: S | undefined;
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WriteBehindOptions<T, S>) {
    this.#options = options;
  }

  /** The items not written yet, oldest first. */
  get pending(): readonly T[] {
    return this.#pending;
  }

  /** The target being written to, if any. */
  get target(): S | undefined {
    return this.#target;
  }

  /** Starts the retry timer. */
  start(): void {
    this.#timer = setInterval(() => {
      this.flush();
    }, this.#options.retryMs);
    this.#timer.unref();
  }

  /** Starts writing to `target`: what was queued before is written first. */
  attach(target: S): void {
    this.#target = target;
    this.flush();
  }

  /** Stops writing after writing what is pending (before the target closes). */
  async detach(): Promise<void> {
    await this.#flushing;
    this.flush();
    await this.#flushing;
    this.#target = undefined;
  }

  /** Resolves once the write under way (if any) has ended. */
  async settled(): Promise<void> {
    await this.#flushing;
  }

  /** Queues an item and starts writing. Never throws and never waits. */
  push(item: T): void {
    if (this.#pending.length >= this.#options.max) this.#pending.shift();
    this.#pending.push(item);
    this.flush();
  }

  /** Writes what is pending, unless a write is under way or there is no target. */
  flush(): void {
    if (!this.#target || this.#flushing || this.#pending.length === 0) return;
    const target = this.#target;
    this.#flushing = (async () => {
      while (this.#pending.length > 0) {
        const written = await this.#options.write(target, this.#pending);
        this.#pending.splice(0, Math.max(1, written));
      }
    })()
      .catch(() => {
        // kept pending; the timer or the next item tries again
      })
      .finally(() => {
        this.#flushing = undefined;
      });
  }

  /** Stops the timer, writes what is pending and lets go of the target. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.detach();
  }

  /** Stops the timer and lets go of the target at once, writing nothing more. */
  destroy(): void {
    clearInterval(this.#timer);
    this.#target = undefined;
  }
}
