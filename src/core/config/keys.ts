import { z } from 'zod';
import { configSchema } from './schema.js';

/** One leaf of the configuration: how it is named in each source, its type and its doc. */
export interface ConfigKey {
  /** Dotted path in the JSON file and for `--set`, e.g. `http.port`. */
  key: string;
  /** Environment variable, e.g. `APPVISOR_HTTP_PORT`. */
  env: string;
  type: 'string' | 'integer' | 'number' | 'boolean';
  nullable: boolean;
  choices?: readonly string[];
  default: unknown;
  description: string;
}

interface JsonSchemaNode {
  type?: string;
  anyOf?: JsonSchemaNode[];
  enum?: string[];
  properties?: Record<string, JsonSchemaNode>;
  default?: unknown;
  description?: string;
}

/** `maxConnections` → `MAX_CONNECTIONS`. */
function envSegment(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function walk(node: JsonSchemaNode, path: string[], out: ConfigKey[]): void {
  if (node.type === 'object' && node.properties) {
    for (const [name, child] of Object.entries(node.properties)) walk(child, [...path, name], out);
    return;
  }
  const variants = node.anyOf ?? [node];
  const nullable = variants.some((v) => v.type === 'null');
  const main = variants.find((v) => v.type !== 'null') ?? {};
  const type = main.type;
  if (type !== 'string' && type !== 'integer' && type !== 'number' && type !== 'boolean') {
    throw new Error(`config key ${path.join('.')} has a type the sources cannot express`);
  }
  out.push({
    key: path.join('.'),
    env: ['APPVISOR', ...path.map(envSegment)].join('_'),
    type,
    nullable,
    ...(main.enum ? { choices: main.enum } : {}),
    default: node.default,
    description: node.description ?? '',
  });
}

/** Every leaf of the configuration schema, in schema order. */
export const configKeys: readonly ConfigKey[] = (() => {
  const out: ConfigKey[] = [];
  walk(z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchemaNode, [], out);
  return out;
})();
