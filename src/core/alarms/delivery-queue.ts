import type { Logger } from '../../lib/logger.js';

/** A delivery that failed and must not be tried again (the receiver refused it for good). */
export class PermanentFailure extends Error {}

/** Options of {@link DeliveryQueue}. */
export interface DeliveryQueueOptions<T> {
  name: string;
  logger: Logger;
  /** Delivers one message; throws to have it tried again later. */
  send(message: T, signal: AbortSignal): Promise<void>;
  /**
   * Messages waiting at most besides the one being sent (or waiting for its retry); when
   * full, the oldest waiting one is dropped, never the one being sent.
   */
  limit: number;
  /** Delay before the first retry; doubled for each further one up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Tries per message before it is dropped. */
  attempts: number;
}

/**
 * Delivers messages one at a time in order, in the background: a failed one is tried again
 * with exponential backoff before the next is sent, so a receiver that was down gets every
 * message in order once it is back. Nothing here ever blocks or throws to the caller.
 */
export class DeliveryQueue<T> {
  readonly #options: DeliveryQueueOptions<T>;
  readonly #waiting: T[] = [];
  /** The message being sent or waiting for its retry; no longer in `#waiting`. */
  #current: { message: T } | undefined;
  #running = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  readonly #abort = new AbortController();
  #idle: Promise<void> = Promise.resolve();

  constructor(options: DeliveryQueueOptions<T>) {
    this.#options = options;
  }

  /** Messages not yet delivered (the one being sent included). */
  get length(): number {
    return this.#waiting.length + (this.#current ? 1 : 0);
  }

  /** Queues a message; returns at once. */
  push(message: T): void {
    if (this.#closed) return;
    if (this.#waiting.length >= this.#options.limit) {
      this.#waiting.shift();
      this.#options.logger.warn(
        { queue: this.#options.name },
        'alarm notification queue full: the oldest notification was dropped',
      );
    }
    this.#waiting.push(message);
    if (!this.#running) this.#idle = this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      let failures = 0;
      while (!this.#closed) {
        if (!this.#current) {
          if (this.#waiting.length === 0) break;
          this.#current = { message: this.#waiting.shift() as T };
        }
        try {
          await this.#options.send(this.#current.message, this.#abort.signal);
          this.#current = undefined;
          failures = 0;
        } catch (error) {
          if (this.#isClosed()) break;
          failures++;
          const permanent = error instanceof PermanentFailure;
          const giveUp = permanent || failures >= this.#options.attempts;
          this.#options.logger.warn(
            { queue: this.#options.name, attempt: failures, error: (error as Error).message },
            giveUp ? 'alarm notification failed: dropped' : 'alarm notification failed: will retry',
          );
          if (giveUp) {
            this.#current = undefined;
            failures = 0;
            continue;
          }
          const delay = Math.min(
            this.#options.initialDelayMs * 2 ** (failures - 1),
            this.#options.maxDelayMs,
          );
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            this.#timer = setTimeout(resolve, delay);
            this.#timer.unref();
          });
          this.#wake = undefined;
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** A message waiting to be tried again is tried now instead of after its delay. */
  retryNow(): void {
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  #isClosed(): boolean {
    return this.#closed;
  }

  /** Stops delivering: what is still waiting is dropped (it was logged with its alarm). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    this.#abort.abort();
    await this.#idle;
  }
}
