import type { FastifySchema, RouteOptions } from 'fastify';

/** The body schema of a route that takes none: nothing, or an empty JSON object. */
const noBody = { type: ['object', 'null'], properties: {}, additionalProperties: false } as const;
/** The query schema of a route that takes no query parameters. */
const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

const bodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What an object schema (or one nested in it) lacks: `additionalProperties: false`. */
function openObjects(schema: unknown, where: string): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as Record<string, unknown>;
  const found: string[] = [];
  const types = Array.isArray(node.type) ? (node.type as unknown[]) : [node.type];
  if (types.includes('object') && node.additionalProperties !== false) found.push(where);
  for (const [name, child] of Object.entries((node.properties as object | undefined) ?? {})) {
    found.push(...openObjects(child, `${where}.${name}`));
  }
  if (node.items !== undefined) found.push(...openObjects(node.items, `${where}[]`));
  return found;
}

/**
 * Gives every route of the API a closed request shape before Fastify compiles it: a route
 * without a query schema takes no query parameters, a route with a body method but no body
 * schema takes no body (or `{}`), and every object schema must say `additionalProperties:
 * false`, so that an unknown field is refused (400, the field named) instead of dropped. A
 * route that breaks the rule is a programming error: the API does not build.
 *
 * A route marked `streamedBody` (a package upload) has a stream, not an object, as its body.
 */
export function closeRouteSchema(route: RouteOptions): void {
  const schema: FastifySchema = { ...(route.schema ?? {}) };
  schema.querystring ??= noQuery;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const streamed = route.config?.streamedBody === true;
  if (schema.body === undefined && !streamed && methods.some((m) => bodyMethods.has(m))) {
    schema.body = noBody;
  }
  const problems = [
    ...openObjects(schema.body, 'body'),
    ...openObjects(schema.querystring, 'querystring'),
    ...openObjects(schema.params, 'params'),
  ].map((where) => `${where} must say additionalProperties: false`);
  if (route.url.includes(':') && schema.params === undefined) {
    problems.push('a path with parameters needs a params schema');
  }
  if (problems.length > 0) {
    throw new Error(`${methods.join(',')} ${route.url}: ${problems.join('; ')}`);
  }
  route.schema = schema;
}
