import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { sendJson } from '../../lib/http-json.js';
import type { AppvisorError } from './appvisor-error.js';
import type { ErrorCode } from './catalog.js';

/** What every failed request answers, the API's and the front's alike. */
export interface ErrorBody {
  code: string;
  message: string;
  /** The request field the error concerns, when it concerns one. */
  field?: string;
}

/** An error as HTTP says it: the status, the body, and the Retry-After seconds when known. */
export interface HttpError {
  status: number;
  body: ErrorBody;
  retryAfter?: number;
}

/** The one shape of an error body: `{code, message}`, and `field` when there is one. */
export function errorBody(code: ErrorCode, message: string, field?: string): ErrorBody {
  return { code, message, ...(field !== undefined ? { field } : {}) };
}

/** An {@link AppvisorError} as it is answered: its status from the catalog, its body. */
export function httpErrorOf(error: AppvisorError): HttpError {
  return {
    status: error.status,
    body: errorBody(error.code, error.message, error.field),
    ...(error.retryAfter ? { retryAfter: error.retryAfter } : {}),
  };
}

/** Answers an {@link AppvisorError} on a plain Node response (the front's, the listeners'). */
export function sendError(
  response: ServerResponse,
  error: AppvisorError,
  headers: OutgoingHttpHeaders = {},
): void {
  const { status, body, retryAfter } = httpErrorOf(error);
  sendJson(response, status, body, {
    ...(retryAfter ? { 'retry-after': String(retryAfter) } : {}),
    ...headers,
  });
}
