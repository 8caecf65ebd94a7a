/**
 * How a route's request shape is written once: its params, query and body are zod schemas,
 * from which both the JSON schema Fastify validates with (Ajv, so the answers to bad input are
 * Fastify's and {@link formatSchemaError}'s, as before) and the TypeScript types of the handler
 * and of the API's clients are derived. zod never parses a request itself.
 */
import type { FastifySchema } from 'fastify';
import { z } from 'zod';

/**
 * A string without control characters (C0, DEL, C1, tab included): what every name, id, path,
 * template, URL and query value of the API must be. A NUL in a file name makes Node's file
 * calls throw, and a newline in a name would forge lines wherever it is written.
 */
export const plainPattern = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';

/** A name, id, path, URL or other one-line text of at most `maxLength` characters. */
export const text = (maxLength: number) =>
  z.string().max(maxLength).regex(new RegExp(plainPattern));

/**
 * A secret (password, passphrase) or a PEM text: any characters, bounded in size. The core
 * applies its own rules to them (PASSWORD_WEAK, CERT_INVALID, ...).
 */
export const secret = (maxLength: number, minLength = 0) => {
  const bounded = z.string().max(maxLength);
  return minLength > 0 ? bounded.min(minLength) : bounded;
};

/** An integer within bounds (JSON's integer: no safe-integer limit is added). */
export const integer = (minimum: number, maximum?: number) => {
  const bounded = z.int().min(minimum);
  return maximum === undefined ? bounded : bounded.max(maximum);
};

/** `:id` of the app, instance and store routes. */
export const idParams = z.strictObject({ id: text(200) });

/** What a route takes besides its path: every part optional, every object closed. */
export interface RequestShape {
  params?: z.ZodType;
  querystring?: z.ZodType;
  body?: z.ZodType;
}

/** A route's request shape with the JSON schema Fastify compiles. */
export interface Contract<S extends RequestShape> {
  readonly shape: S;
  readonly schema: FastifySchema;
}

type Part<S, K extends keyof RequestShape> = S extends { [P in K]: infer T extends z.ZodType }
  ? z.output<T>
  : unknown;

/**
 * The route generic of a contract (`app.post<RouteOf<typeof c>>(...)`): what the handler sees
 * after validation, defaults filled in.
 */
export interface RouteOf<C extends Contract<RequestShape>> {
  Params: Part<C['shape'], 'params'>;
  Querystring: Part<C['shape'], 'querystring'>;
  Body: Part<C['shape'], 'body'>;
}

/** What a client sends: the input side (fields with a default may be left out). */
export type RequestOf<T extends z.ZodType> = z.input<T>;

const maxSafe = Number.MAX_SAFE_INTEGER;

/**
 * zod's JSON schema in the form the API's schemas were written by hand, so Ajv answers the
 * same words: `anyOf [X, null]` becomes `type: [X, "null"]`, the safe-integer bounds zod adds
 * to every integer go, and the `$schema` tag goes (Fastify's Ajv has its own draft).
 */
function normalize(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalize);
  if (typeof node !== 'object' || node === null) return node;
  const source = node as Record<string, unknown>;
  const anyOf = source.anyOf;
  if (Array.isArray(anyOf) && anyOf.length === 2) {
    const [first, second] = anyOf as Record<string, unknown>[];
    if (second?.type === 'null' && first && typeof first.type === 'string') {
      const rest = { ...source };
      delete rest.anyOf;
      return normalize({ ...rest, ...first, type: [first.type, 'null'] });
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === '$schema') continue;
    if (key === 'minimum' && value === -maxSafe) continue;
    if (key === 'maximum' && value === maxSafe) continue;
    out[key] = normalize(value);
  }
  return out;
}

/** The JSON schema (draft 7, input side: defaults included) of one part of a request. */
export function jsonSchemaOf(type: z.ZodType): Record<string, unknown> {
  return normalize(z.toJSONSchema(type, { io: 'input', target: 'draft-7' })) as Record<
    string,
    unknown
  >;
}

/** Declares a route's request shape once; {@link Contract.schema} goes to Fastify. */
export function contract<S extends RequestShape>(shape: S): Contract<S> {
  const schema: FastifySchema = {};
  if (shape.params) schema.params = jsonSchemaOf(shape.params);
  if (shape.querystring) schema.querystring = jsonSchemaOf(shape.querystring);
  if (shape.body) schema.body = jsonSchemaOf(shape.body);
  return { shape, schema };
}
