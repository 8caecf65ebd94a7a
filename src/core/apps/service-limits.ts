import { TokenBucket, type RateLimit } from '../../lib/token-bucket.js';

/** The kinds of service messages that are limited apart (config `services.*`). */
export type MessageKind = 'logs' | 'events' | 'alarms' | 'others';

/** Limits on what one service may send (config `services`). */
export interface ServiceLimits {
  /** Longest message, in bytes of its JSON line. */
  maxMessageBytes: number;
  logs: RateLimit;
  events: RateLimit;
  alarms: RateLimit;
  others: RateLimit;
  /** Alarms one app may hold raised at once. */
  maxAlarms: number;
  /** Messages dropped within one window after which the service is ended; 0: never. */
  floodLimit: number;
}

/** The defaults of config `services` (docs/configuration.md). */
export const defaultServiceLimits: ServiceLimits = {
  maxMessageBytes: 256 * 1024,
  logs: { perSecond: 200, burst: 2000 },
  events: { perSecond: 2, burst: 20 },
  alarms: { perSecond: 2, burst: 20 },
  others: { perSecond: 200, burst: 5000 },
  maxAlarms: 20,
  floodLimit: 20_000,
};

/** The limited kind of a message `type`. */
export function kindOf(type: unknown): MessageKind {
  switch (type) {
    case 'log':
      return 'logs';
    case 'event':
      return 'events';
    case 'alarm':
      return 'alarms';
    default:
      return 'others';
  }
}

/** Options of {@link MessageLimiter}. */
export interface MessageLimiterOptions {
  limits: ServiceLimits;
  /** Called once per window in which messages were dropped, after it, with the counts. */
  report: (dropped: Record<MessageKind, number>, windowMs: number) => void;
  /** Called once per window when the drops reach `floodLimit`. */
  flooding: (dropped: number) => void;
  now?: () => number;
  /** Length of a window of drops (10 s). */
  windowMs?: number;
}

/**
 * The rate limits of one app's service messages: a token bucket per kind, so a flood of log
 * lines does not starve its `instance.ready` answers. A message over the rate is dropped;
 * drops are counted and reported once per window ("N messages dropped"), never one by one,
 * and a service that goes on until `floodLimit` drops in one window is reported as flooding.
 */
export class MessageLimiter {
  readonly #options: MessageLimiterOptions;
  readonly #buckets: Record<MessageKind, TokenBucket>;
  #dropped: Record<MessageKind, number> = { logs: 0, events: 0, alarms: 0, others: 0 };
  #total = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MessageLimiterOptions) {
    this.#options = options;
    const { limits } = options;
    const bucket = (limit: RateLimit) => new TokenBucket(limit, options.now);
    this.#buckets = {
      logs: bucket(limits.logs),
      events: bucket(limits.events),
      alarms: bucket(limits.alarms),
      others: bucket(limits.others),
    };
  }

  /** Whether a message of `type` may pass now; a dropped one is counted. */
  admit(type: unknown): boolean {
    const kind = kindOf(type);
    if (this.#buckets[kind].take()) return true;
    this.#dropped[kind] += 1;
    this.#total += 1;
    if (this.#total === 1) {
      const windowMs = this.#options.windowMs ?? 10_000;
      this.#timer = setTimeout(() => {
        this.#report();
      }, windowMs);
      this.#timer.unref();
    }
    const { floodLimit } = this.#options.limits;
    if (floodLimit > 0 && this.#total === floodLimit) this.#options.flooding(this.#total);
    return false;
  }

  #report(): void {
    const dropped = this.#dropped;
    this.#dropped = { logs: 0, events: 0, alarms: 0, others: 0 };
    this.#total = 0;
    this.#timer = undefined;
    this.#options.report(dropped, this.#options.windowMs ?? 10_000);
  }

  /** Reports what was dropped so far at once and stops the window's timer. */
  flush(): void {
    clearTimeout(this.#timer);
    if (this.#total > 0) this.#report();
  }
}
