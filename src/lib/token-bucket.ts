/** Rate and burst of a {@link TokenBucket}. */
export interface RateLimit {
  /** Tokens added per second, up to `burst`. */
  perSecond: number;
  /** Tokens the bucket holds at most (and starts with). */
  burst: number;
}

/**
 * A token bucket: `take()` succeeds while tokens are left; tokens come back at `perSecond`
 * up to `burst`. Constant memory and time per call, so it can sit in front of every message
 * of a flood.
 */
export class TokenBucket {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(limit: RateLimit, now: () => number = () => Date.now()) {
    this.#limit = limit;
    this.#now = now;
    this.#tokens = limit.burst;
    this.#at = now();
  }

  /** Takes one token; false (and nothing taken) when none is left. */
  take(): boolean {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#at = now;
    this.#tokens = Math.min(this.#limit.burst, this.#tokens + elapsed * this.#limit.perSecond);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
