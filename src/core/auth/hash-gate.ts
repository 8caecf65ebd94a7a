import { AppvisorError } from '../errors/index.js';

/** Options of {@link HashGate}. */
export interface HashGateOptions {
  /** Hashes run at once. */
  concurrency: number;
  /** Hashes that may wait for a place; beyond them, RATE_LIMITED. */
  queue: number;
}

/**
 * Bounds the password hashes running at once. scrypt runs on libuv's thread pool (4 threads
 * by default), which file reads, DNS look-ups and other crypto share: unbounded, 400
 * concurrent logins filled it and every other request waited 20 s. With `concurrency` below
 * the pool's size, threads stay free for the rest; a short queue absorbs a burst, and what does
 * not fit is refused at once with RATE_LIMITED instead of piling up.
 */
export class HashGate {
  readonly #options: HashGateOptions;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: HashGateOptions) {
    this.#options = options;
  }

  /**
   * Runs `work` when a place is free. Throws RATE_LIMITED (synchronously checked, before
   * anything runs) when every place and the queue are taken.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#options.concurrency) {
      if (this.#waiting.length >= this.#options.queue) {
        const error = new AppvisorError(
          'RATE_LIMITED',
          'too many logins at once; try again in a second',
        );
        throw Object.assign(error, { retryAfter: 1 });
      }
      // The place is handed over by the finishing hash, so #running stays counted.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
