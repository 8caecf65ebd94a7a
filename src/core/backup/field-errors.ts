/** Errors that name the request field they concern, so that forms show them there. */
import { AppvisorError, type ErrorCode } from '../errors/index.js';

/**
 * The same error naming the request field it concerns (`template`, `passphrase`, ...); other
 * errors, or other codes when `codes` is given, pass unchanged.
 */
export function concerning(field: string, error: unknown, codes?: readonly ErrorCode[]): unknown {
  if (!(error instanceof AppvisorError) || (codes && !codes.includes(error.code))) return error;
  return new AppvisorError(error.code, error.message, { cause: error.cause, field });
}

/** Runs `check`, naming `field` in the error it throws. */
export function checking<T>(field: string, check: () => T, codes?: readonly ErrorCode[]): T {
  try {
    return check();
  } catch (error) {
    throw concerning(field, error, codes);
  }
}
