import type {
  FastifyError,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';
import { isDiskFull } from '../core/disk/index.js';
import { AppvisorError, errorBody, httpErrorOf, type HttpError } from '../core/errors/index.js';
import { isConnectionFailure } from '../lib/pg-errors.js';
import { escapeControls } from '../lib/text-escape.js';
import { plainPattern } from './contract.js';

/** Seconds a client should wait before retrying while the database is away (it restarts in 1 s first). */
const databaseRetryAfter = 5;

/** The top-level field a schema validation error names (`/logMaxBytes`, a missing `app`). */
function validationField(validation: FastifyError['validation'] | undefined): string | undefined {
  const first = validation?.[0];
  if (!first) return undefined;
  // Errors made by hand (tests, plugins) may lack the path.
  const path = (first as { instancePath?: string }).instancePath ?? '';
  const segment = path.split('/')[1];
  if (segment !== undefined && segment !== '') return segment;
  const params = first.params as
    { missingProperty?: unknown; additionalProperty?: unknown } | undefined;
  for (const name of [params?.missingProperty, params?.additionalProperty]) {
    if (typeof name === 'string') return name;
  }
  return undefined;
}

/** A name the caller sent, fit to be quoted in a message (no control characters, cut). */
const quoted = (name: string) => JSON.stringify(escapeControls(name, 100));

/**
 * Fastify's `schemaErrorFormatter`: one message for the first schema error, naming the field.
 * An unknown field and a control character get words of their own; the rest keep Ajv's.
 */
export function formatSchemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  if (!first) return new Error(`${dataVar} is invalid`);
  const at = `${dataVar}${first.instancePath}`;
  const extra = (first.params as { additionalProperty?: unknown }).additionalProperty;
  if (first.keyword === 'additionalProperties' && typeof extra === 'string') {
    return new Error(`${at} has an unknown field ${quoted(extra)}`);
  }
  if (
    first.keyword === 'pattern' &&
    (first.params as { pattern?: unknown }).pattern === plainPattern
  ) {
    return new Error(`${at} must not contain control characters`);
  }
  return new Error(`${at} ${first.message ?? 'is invalid'}`);
}

/**
 * The one mapper from a thrown error to `{code, message}` and its HTTP status. Catalog errors
 * are answered as core/errors says ({@link httpErrorOf}); framework validation errors become
 * BAD_REQUEST; a lost database becomes DATABASE_UNAVAILABLE; anything else is INTERNAL and its
 * details stay in the log.
 */
export function toErrorBody(error: unknown): HttpError {
  if (error instanceof AppvisorError) {
    const mapped = httpErrorOf(error);
    // A lost database always says when to come back, whoever noticed it.
    if (mapped.retryAfter === undefined && error.code === 'DATABASE_UNAVAILABLE') {
      return { ...mapped, retryAfter: databaseRetryAfter };
    }
    return mapped;
  }
  const fastifyError = (error ?? {}) as Partial<FastifyError>;
  const clientStatus =
    fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500
      ? fastifyError.statusCode
      : undefined;
  if (clientStatus === 415) return httpErrorOf(new AppvisorError('UNSUPPORTED_MEDIA_TYPE'));
  if (fastifyError.validation || clientStatus) {
    // The framework's own 4xx (413, 414, ...) keeps its status; the code says "your request".
    return {
      status: clientStatus ?? 400,
      body: errorBody(
        'BAD_REQUEST',
        fastifyError.message ?? 'bad request',
        validationField(fastifyError.validation),
      ),
    };
  }
  // ENOSPC from a file write, or PostgreSQL's disk_full (53100) from a store write.
  if (isDiskFull(error) || (error as { code?: unknown } | undefined)?.code === '53100') {
    return httpErrorOf(new AppvisorError('DISK_FULL'));
  }
  // A database error no store operation mapped (a pg client of its own: restores, ...).
  if (isConnectionFailure(error)) {
    return httpErrorOf(
      new AppvisorError('DATABASE_UNAVAILABLE', undefined, { retryAfter: databaseRetryAfter }),
    );
  }
  return httpErrorOf(new AppvisorError('INTERNAL'));
}

/** Fastify error handler that answers with {@link toErrorBody}. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = toErrorBody(error);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  if (mapped.retryAfter) void reply.header('retry-after', String(mapped.retryAfter));
  void reply.code(mapped.status).send(mapped.body);
}
