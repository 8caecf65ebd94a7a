import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { AppvisorError } from '../errors/index.js';
import { configKeys, type ConfigKey } from './keys.js';
import { configSchema, type Config } from './schema.js';

/** Environment variables that are not configuration keys but are known to appvisor. */
export const otherEnvironment = {
  APPVISOR_CONFIG: 'JSON configuration file (same as --config).',
  APPVISOR_URL: 'CLI: URL of a remote manager (same as --url).',
  APPVISOR_TOKEN: 'CLI: bearer token for a remote manager (same as --token).',
  APPVISOR_CA: 'CLI: PEM certificate file to trust for an https remote manager (same as --ca).',
} as const;

/** Where the configuration comes from; the entry point gathers these, nothing else reads the process. */
export interface ConfigSources {
  /** Values from command-line flags, by dotted key (`http.port`), as typed. */
  flags?: Record<string, string | undefined>;
  /** The process environment (only `APPVISOR_*` variables are looked at). */
  env?: Record<string, string | undefined>;
  /** Path of a JSON configuration file. */
  file?: string;
  /** Folder that relative paths are resolved against. */
  cwd: string;
  /** Whether the manager runs as root (decides the default ports). */
  isRoot: boolean;
}

function invalid(message: string): AppvisorError {
  return new AppvisorError('CONFIG_INVALID', message);
}

/** Turns the text of a flag or an environment variable into the key's type. */
function fromText(key: ConfigKey, text: string, source: string): unknown {
  const trimmed = text.trim();
  if (key.nullable && (trimmed === '' || trimmed === 'null')) return null;
  switch (key.type) {
    case 'string':
      return text;
    case 'integer':
    case 'number': {
      // Plain decimal only: `0x1F90` or `1e3` for a port is a typo, not a wish.
      const value = Number(trimmed);
      if (!/^[+-]?(\d+(\.\d+)?|\.\d+)$/.test(trimmed) || !Number.isFinite(value)) {
        throw invalid(`${source}: ${key.key} must be a number, got "${text}"`);
      }
      return value;
    }
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (['true', '1', 'on', 'yes'].includes(lower)) return true;
      if (['false', '0', 'off', 'no'].includes(lower)) return false;
      throw invalid(`${source}: ${key.key} must be true or false, got "${text}"`);
    }
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1) as string] = value;
}

function describeIssue(issue: z.core.$ZodIssue, origin: string): string {
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return `${origin}: unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
  }
  return `${origin}: ${path || '(root)'}: ${issue.message}`;
}

/**
 * Builds the configuration from its sources. Throws `CONFIG_INVALID` with a one-line message
 * naming the source and the key for an unknown key, a wrong type or an out-of-range value.
 */
export async function loadConfig(sources: ConfigSources): Promise<Config> {
  const byKey = new Map(configKeys.map((k) => [k.key, k]));
  const byEnv = new Map(configKeys.map((k) => [k.env, k]));
  const env = sources.env ?? {};
  /** Which source set each key, so that an error names the flag or variable at fault. */
  const origins = new Map<string, string>();

  const filePath = sources.file ?? env.APPVISOR_CONFIG;
  let merged: Record<string, unknown> = {};
  let origin = 'defaults';
  if (filePath) {
    origin = `config file ${filePath}`;
    let text: string;
    try {
      text = await readFile(resolve(sources.cwd, filePath), 'utf8');
    } catch (error) {
      throw invalid(
        `${origin}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error('the top level must be an object');
      }
      merged = parsed as Record<string, unknown>;
    } catch (error) {
      throw invalid(`${origin}: not valid JSON (${(error as Error).message})`);
    }
    // Check the file on its own first, so an error names the file rather than the merge.
    const fileResult = configSchema.safeParse(merged);
    if (!fileResult.success) throw invalid(describeIssue(fileResult.error.issues[0]!, origin));
  }

  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('APPVISOR_') || text === undefined) continue;
    if (name in otherEnvironment) continue;
    const key = byEnv.get(name);
    if (!key) {
      throw invalid(`environment: unknown variable ${name} (see docs/configuration.md)`);
    }
    setPath(merged, key.key, fromText(key, text, `environment ${name}`));
    origins.set(key.key, `environment ${name}`);
  }

  for (const [name, text] of Object.entries(sources.flags ?? {})) {
    if (text === undefined) continue;
    const key = byKey.get(name);
    if (!key) throw invalid(`flags: unknown configuration key ${name}`);
    setPath(merged, key.key, fromText(key, text, `flag ${name}`));
    origins.set(key.key, `flag ${name}`);
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalid(describeIssue(issue, origins.get(issue.path.join('.')) ?? origin));
  }
  const parsed = result.data;
  if (parsed.cluster.name !== null && !parsed.database.url) {
    // The nodes of a platform share one server; each embedded one is its node's alone.
    throw invalid(
      `${origins.get('cluster.name') ?? origin}: cluster.name needs an external PostgreSQL the nodes share (database.url)`,
    );
  }
  return {
    ...parsed,
    data: resolve(sources.cwd, parsed.data),
    database: {
      ...parsed.database,
      fallbackDir: resolve(sources.cwd, parsed.database.fallbackDir),
    },
    backup: {
      ...parsed.backup,
      folder: parsed.backup.folder && resolve(sources.cwd, parsed.backup.folder),
    },
    http: { ...parsed.http, port: parsed.http.port ?? (sources.isRoot ? 80 : 8080) },
    https: { ...parsed.https, port: parsed.https.port ?? (sources.isRoot ? 443 : 8443) },
    admin: { ...parsed.admin, port: parsed.admin.port ?? 9443 },
  };
}
