import { errorCatalog, statusOf, type AlsoStatus, type ErrorCode } from './catalog.js';

/** Options of {@link AppvisorError}. */
export interface AppvisorErrorOptions {
  cause?: unknown;
  /**
   * The request field the error concerns (`path`, `password`, ...), as named in the request
   * body; forms show the message next to it.
   */
  field?: string;
  /**
   * Another status than the code's own, one the catalog lists in the code's `alsoStatus`
   * (a status the code does not list is ignored).
   */
  status?: AlsoStatus;
  /** Seconds after which the caller may retry, sent as Retry-After. */
  retryAfter?: number;
}

/** An error with a stable code; its message is safe to show to the caller (no secrets). */
export class AppvisorError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  /** Seconds after which the caller may retry (Retry-After), when the thrower knows. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: AppvisorErrorOptions) {
    super(
      message ?? errorCatalog[code].text,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'AppvisorError';
    this.code = code;
    this.status = statusOf(code, options?.status);
    this.field = options?.field;
    this.retryAfter = options?.retryAfter;
  }
}
