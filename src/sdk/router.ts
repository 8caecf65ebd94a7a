import type { IncomingMessage, ServerResponse } from 'node:http';
import { asAppRequest, HttpError, sendError, sendJson, type AppRequest } from './http.js';
import type { Instance } from './instance.js';

/**
 * A route's handler. What it returns (other than undefined), when it has not answered itself,
 * is sent as JSON with status 200. It may throw an {@link HttpError} to answer with its status.
 */
export type RouteHandler = (
  request: AppRequest,
  response: ServerResponse,
  instance: Instance,
) => unknown;

/** One segment of a pattern: literal text, a `:name` parameter, or the trailing `*`. */
type Segment = { text: string } | { param: string } | { rest: true };

interface Route {
  readonly method: string;
  readonly pattern: string;
  readonly segments: readonly Segment[];
  readonly handler: RouteHandler;
}

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A pattern split into segments; throws a TypeError for one the router cannot match. */
function parsePattern(pattern: string): Segment[] {
  if (!pattern.startsWith('/')) throw new TypeError(`route "${pattern}" must start with "/"`);
  const parts = pattern.slice(1).split('/');
  return parts.map((part, index) => {
    if (part === '*') {
      if (index !== parts.length - 1) throw new TypeError(`route "${pattern}": "*" must be last`);
      return { rest: true };
    }
    if (part.startsWith(':')) {
      const name = part.slice(1);
      if (!namePattern.test(name))
        throw new TypeError(`route "${pattern}": "${part}" is not a parameter name`);
      return { param: name };
    }
    return { text: part };
  });
}

/** Decodes one path segment; a malformed escape is the client's fault (400). */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the path holds a malformed %-escape');
  }
}

/** The route's parameters when `parts` (a path split at `/`) matches it, else undefined. */
function match(route: Route, parts: readonly string[]): Record<string, string> | undefined {
  const { segments } = route;
  const last = segments[segments.length - 1];
  const hasRest = last !== undefined && 'rest' in last;
  if (hasRest ? parts.length < segments.length - 1 : parts.length !== segments.length)
    return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if ('rest' in segment) {
      params['*'] = decode(parts.slice(i).join('/'));
    } else if ('param' in segment) {
      const part = parts[i]!;
      if (part === '') return undefined;
      params[segment.param] = decode(part);
    } else if (segment.text !== parts[i]) {
      return undefined;
    }
  }
  return params;
}

/**
 * A small router for an instance's HTTP requests: method and path inside the instance
 * (`request.path`), with `:name` parameters and a trailing `*`. Routes are tried in the order
 * they were added; a path matches exactly (`/items` is not `/items/`). No route for the path is
 * a 404 `NOT_FOUND`; routes for the path but not its method a 405 `METHOD_NOT_ALLOWED` with
 * `Allow`; HEAD runs the GET route (Node sends no body). Both as JSON `{ code, message }`.
 *
 * One router may serve every instance of the service (its handlers get the instance), so it
 * costs nothing per instance: make it once, at module level, and pass {@link Router.handle}
 * as the instance's `http` handler.
 */
export class Router {
  readonly #routes: Route[] = [];

  /** Adds a route for `method` (upper case, e.g. `GET`) and `pattern` (e.g. `/items/:id`). */
  route(method: string, pattern: string, handler: RouteHandler): this {
    this.#routes.push({
      method: method.toUpperCase(),
      pattern,
      segments: parsePattern(pattern),
      handler,
    });
    return this;
  }

  /** Adds a GET route; HEAD requests run it too (without a body). */
  get(pattern: string, handler: RouteHandler): this {
    return this.route('GET', pattern, handler);
  }
  /** Adds a POST route. */
  post(pattern: string, handler: RouteHandler): this {
    return this.route('POST', pattern, handler);
  }
  /** Adds a PUT route. */
  put(pattern: string, handler: RouteHandler): this {
    return this.route('PUT', pattern, handler);
  }
  /** Adds a PATCH route. */
  patch(pattern: string, handler: RouteHandler): this {
    return this.route('PATCH', pattern, handler);
  }
  /** Adds a DELETE route. */
  delete(pattern: string, handler: RouteHandler): this {
    return this.route('DELETE', pattern, handler);
  }

  /**
   * Answers a request of `instance`: an `http` handler (`{ http: router.handle }`). An
   * {@link HttpError} from a route is answered with its status; any other error is thrown on
   * to the SDK, which logs it and answers 500.
   */
  readonly handle = async (
    request: IncomingMessage,
    response: ServerResponse,
    instance: Instance,
  ): Promise<void> => {
    const app = 'path' in request ? (request as AppRequest) : asAppRequest(request, instance.path);
    try {
      const result = await this.#dispatch(app, response, instance);
      if (result !== undefined && !response.headersSent && !response.writableEnded)
        sendJson(response, 200, result as object);
    } catch (error) {
      if (!(error instanceof HttpError) || response.headersSent) throw error;
      sendError(response, error);
    }
  };

  /** The route's result (maybe a promise); throws the 404 / 405 / 400 as HttpErrors. */
  #dispatch(request: AppRequest, response: ServerResponse, instance: Instance): unknown {
    const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
    const parts = request.path.slice(1).split('/');
    const allowed = new Set<string>();
    for (const route of this.#routes) {
      const params = match(route, parts);
      if (params === undefined) continue;
      if (route.method !== method) {
        allowed.add(route.method);
        if (route.method === 'GET') allowed.add('HEAD');
        continue;
      }
      request.params = params;
      return route.handler(request, response, instance);
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      throw new HttpError(
        405,
        'METHOD_NOT_ALLOWED',
        `${request.method ?? '?'} is not allowed here (allowed: ${allow})`,
        { allow },
      );
    }
    throw new HttpError(404, 'NOT_FOUND', `nothing is served at ${request.path}`);
  }
}

/** A new, empty {@link Router}. */
export function createRouter(): Router {
  return new Router();
}
