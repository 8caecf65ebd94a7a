/**
 * The one catalog of error codes and the one shape of an error answer. Handlers throw
 * {@link AppvisorError}; {@link httpErrorOf} says it in HTTP (`{code, message}` and the status
 * of the catalog). The API's mapper (src/api/errors.ts) uses it for every error it answers,
 * and the front and the listeners answer with {@link sendError}.
 */
export {
  errorCatalog,
  isErrorCode,
  statusOf,
  type AlsoStatus,
  type CatalogEntry,
  type ErrorCode,
} from './catalog.js';
export { AppvisorError, type AppvisorErrorOptions } from './appvisor-error.js';
export { errorBody, httpErrorOf, sendError, type ErrorBody, type HttpError } from './http.js';
