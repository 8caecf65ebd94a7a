import { z } from 'zod';
import { appIdPattern } from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';

/**
 * `apps.json`, the index of an app store (docs/app-store.md). Unknown keys are ignored, so a
 * newer store can add fields; what is there must be right, or the whole index is refused.
 */
const versionSchema = z.object({
  version: z.string().min(1).max(64),
  build: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  label: z.string().min(1).max(32).default('final'),
  /** Absolute, or relative to the index's own URL. */
  url: z.string().min(1).max(2000),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
  size: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** Base64 Ed25519 signature of the package statement (signing.ts). */
  signature: z.string().max(200).optional(),
});

const appSchema = z.object({
  id: z.string().regex(appIdPattern, 'is not a valid app id'),
  title: z.string().max(200).default(''),
  description: z.string().max(2000).default(''),
  versions: z.array(versionSchema).min(1).max(1000),
});

/** An ISO 8601 time with its zone, kept as given. */
const time = z
  .string()
  .max(64)
  .refine(
    (v) => /(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)),
    'is not an ISO time',
  );

const indexSchema = z.object({
  format: z.literal(1).default(1),
  name: z.string().max(200).optional(),
  /**
   * When the index was made and until when it may be used; inside the signed bytes, so an old
   * signed index cannot be replayed as new (docs/app-store.md).
   */
  published: time.optional(),
  expires: time.optional(),
  apps: z.array(appSchema).max(10_000),
});

/** One version of an app in an index; `url` already resolved to an absolute URL. */
export type IndexVersion = z.output<typeof versionSchema>;
/** One app of an index, its versions newest (highest build) first. */
export type IndexApp = z.output<typeof appSchema>;
/** A parsed index. */
export type StoreIndex = z.output<typeof indexSchema>;

function invalid(store: string, detail: string): AppvisorError {
  return new AppvisorError('APPSTORE_INDEX_INVALID', `app store ${store}: apps.json ${detail}`);
}

/**
 * Parses an index fetched from `indexUrl`: validates it, resolves package URLs (http and https
 * only) and sorts each app's versions newest first. Throws APPSTORE_INDEX_INVALID naming the
 * first problem.
 */
export function parseIndex(text: string, indexUrl: URL, store: string): StoreIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(store, `is not valid JSON: ${(error as Error).message}`);
  }
  const result = indexSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalid(store, `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const index = result.data;
  const ids = new Set<string>();
  for (const app of index.apps) {
    if (ids.has(app.id)) throw invalid(store, `lists app ${app.id} twice`);
    ids.add(app.id);
    const builds = new Set<number>();
    for (const version of app.versions) {
      if (builds.has(version.build)) {
        throw invalid(store, `lists build ${version.build} of ${app.id} twice`);
      }
      builds.add(version.build);
      let url: URL;
      try {
        url = new URL(version.url, indexUrl);
      } catch {
        throw invalid(store, `has a bad URL for ${app.id} ${version.version}: ${version.url}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw invalid(store, `names a ${url.protocol} URL for ${app.id}; only http and https`);
      }
      version.url = url.href;
      version.sha256 = version.sha256.toLowerCase();
    }
    app.versions.sort((a, b) => b.build - a.build);
  }
  return index;
}
