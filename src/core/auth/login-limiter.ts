import { AppvisorError } from '../errors/index.js';

/** Options of {@link LoginLimiter}. */
export interface LoginLimiterOptions {
  /** Failed logins allowed within the window; the next one is refused. */
  attempts: number;
  windowMs: number;
  now?: () => number;
  /** Clients tracked at most; the oldest are forgotten beyond it. */
  maxClients?: number;
}

/**
 * Limits failed logins per client: after `attempts` failures within `windowMs`, logins from
 * that client are refused with RATE_LIMITED until the oldest failure leaves the window.
 * A success forgets the client's failures.
 */
export class LoginLimiter {
  readonly #options: LoginLimiterOptions;
  readonly #failures = new Map<string, number[]>();

  constructor(options: LoginLimiterOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  #recent(client: string): number[] {
    const since = this.#now() - this.#options.windowMs;
    const times = (this.#failures.get(client) ?? []).filter((t) => t > since);
    if (times.length === 0) this.#failures.delete(client);
    else this.#failures.set(client, times);
    return times;
  }

  /** Throws RATE_LIMITED (with the seconds to wait) when the client may not try now. */
  check(client: string): void {
    const times = this.#recent(client);
    if (times.length < this.#options.attempts) return;
    const retryAfter = Math.max(
      1,
      Math.ceil((times[0]! + this.#options.windowMs - this.#now()) / 1000),
    );
    const error = new AppvisorError(
      'RATE_LIMITED',
      `too many failed logins; try again in ${retryAfter} s`,
    );
    throw Object.assign(error, { retryAfter });
  }

  fail(client: string): void {
    const times = this.#recent(client);
    times.push(this.#now());
    this.#failures.delete(client);
    this.#failures.set(client, times);
    const max = this.#options.maxClients ?? 10_000;
    while (this.#failures.size > max) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }

  succeed(client: string): void {
    this.#failures.delete(client);
  }
}
