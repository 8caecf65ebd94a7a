import { AppvisorError } from '../errors/index.js';

/** Options of {@link LoginLimiter}. */
export interface LoginLimiterOptions {
  /** Login attempts allowed within the window; the next one is refused. */
  attempts: number;
  windowMs: number;
  now?: () => number;
  /** Clients tracked at most; the oldest are forgotten beyond it. */
  maxClients?: number;
}

/** One attempt counted by {@link LoginLimiter.reserve}; give it back with `release`. */
export interface LoginReservation {
  readonly client: string;
  readonly at: number;
}

/**
 * Limits login attempts per client: at most `attempts` within `windowMs`; beyond that,
 * logins from that client are refused with RATE_LIMITED until the oldest attempt leaves
 * the window. An attempt is counted when it starts ({@link reserve}), before the password is
 * hashed, so concurrent attempts cannot all pass the check while the first hashes are still
 * running. An attempt that succeeds, or that was never checked against the password, is given
 * back; a success also forgets the client's failures.
 */
export class LoginLimiter {
  readonly #options: LoginLimiterOptions;
  readonly #attempts = new Map<string, LoginReservation[]>();

  constructor(options: LoginLimiterOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  #recent(client: string): LoginReservation[] {
    const since = this.#now() - this.#options.windowMs;
    const times = (this.#attempts.get(client) ?? []).filter((t) => t.at > since);
    if (times.length === 0) this.#attempts.delete(client);
    else this.#attempts.set(client, times);
    return times;
  }

  /** Throws RATE_LIMITED (with the seconds to wait) when the client may not try now. */
  check(client: string): void {
    const times = this.#recent(client);
    if (times.length < this.#options.attempts) return;
    const retryAfter = Math.max(
      1,
      Math.ceil((times[0]!.at + this.#options.windowMs - this.#now()) / 1000),
    );
    const error = new AppvisorError(
      'RATE_LIMITED',
      `too many failed logins; try again in ${retryAfter} s`,
    );
    throw Object.assign(error, { retryAfter });
  }

  /**
   * Counts one attempt now, or throws RATE_LIMITED when the client has used up its
   * attempts. Check and count happen in one synchronous step: nothing can run between them.
   * The attempt stays counted (as a failure) unless it is given back with {@link release}.
   */
  reserve(client: string): LoginReservation {
    this.check(client);
    const reservation: LoginReservation = { client, at: this.#now() };
    const times = this.#recent(client);
    times.push(reservation);
    // Re-inserted so that the map's order is that of the latest attempt (oldest first out).
    this.#attempts.delete(client);
    this.#attempts.set(client, times);
    const max = this.#options.maxClients ?? 10_000;
    while (this.#attempts.size > max) {
      const oldest = this.#attempts.keys().next().value;
      if (oldest === undefined) break;
      this.#attempts.delete(oldest);
    }
    return reservation;
  }

  /** Gives back an attempt that did not try the password (refused before hashing). */
  release(reservation: LoginReservation): void {
    const times = this.#attempts.get(reservation.client);
    if (!times) return;
    const index = times.indexOf(reservation);
    if (index >= 0) times.splice(index, 1);
    if (times.length === 0) this.#attempts.delete(reservation.client);
  }

  /** The attempt was right: the client's failures are forgotten, this attempt included. */
  succeed(client: string): void {
    this.#attempts.delete(client);
  }
}
