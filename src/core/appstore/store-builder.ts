import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { checkStaticFolder, extractPackage, readManifest } from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';
import { packageStatement, signBytes } from './signing.js';

/** What {@link buildStore} wrote. */
export interface BuildResult {
  index: string;
  signature: string | null;
  apps: { id: string; versions: { version: string; build: number; file: string }[] }[];
}

const packageName = /\.(zip|tar\.gz|tgz|tar)$/;

/** How long a built or signed index may be used by default: the store re-signs before. */
export const defaultIndexValidDays = 30;

/**
 * The times an index carries inside its signed bytes: `published` (now) and `expires`
 * (`validDays` later). Managers refuse an index past `expires` or older than one they saw.
 */
export function indexTimes(validDays = defaultIndexValidDays, now = new Date()) {
  if (!(validDays > 0)) {
    throw new AppvisorError('BAD_REQUEST', 'the validity of an index is a positive number of days');
  }
  return {
    published: now.toISOString(),
    expires: new Date(now.getTime() + validDays * 86_400_000).toISOString(),
  };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * An index's text with fresh `published` and `expires` times, for signing it again; undefined
 * when the text is not an index (a JSON object with `apps`), which is then signed as it is.
 */
export function restampIndex(text: string, validDays?: number): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('apps' in value)) return undefined;
  if (!Array.isArray(value.apps)) return undefined;
  return `${JSON.stringify({ ...value, ...indexTimes(validDays) }, null, 2)}\n`;
}

/**
 * Signs a store file as `<file>.sig`. An index (`apps.json`) first gets fresh `published` and
 * `expires` times, since signing again is how a store stays fresh. Both files are written as
 * `buildStore` writes them (temporary name, fsync, rename), so a crash never leaves half an
 * index. Returns the signature.
 */
export async function signStoreFile(
  file: string,
  key: KeyObject,
  validDays?: number,
): Promise<string> {
  let data = await readFile(file);
  const restamped = restampIndex(data.toString('utf8'), validDays);
  if (restamped !== undefined) {
    data = Buffer.from(restamped);
    await writeFileAtomic(file, data, 0o644);
  }
  const signature = signBytes(data, key);
  await writeFileAtomic(`${file}.sig`, `${signature}\n`, 0o644);
  return signature;
}

/**
 * Writes `apps.json` (and, with a key, `apps.json.sig` and a signature per package) for the
 * packages in `folder`, so that the folder is an app store any static web server can serve.
 * Each package must be a valid app package whose app.json names a `version` and a `build`;
 * titles and descriptions come from each app's newest build. Package URLs are relative. The
 * index gives its `published` and `expires` times (`validDays`, 30 by default).
 */
export async function buildStore(
  folder: string,
  options: { key?: KeyObject; name?: string; validDays?: number } = {},
): Promise<BuildResult> {
  const times = indexTimes(options.validDays);
  const files = (await readdir(folder)).filter((name) => packageName.test(name)).sort();
  const work = await mkdtemp(join(tmpdir(), 'appvisor-store-build-'));
  const byId = new Map<
    string,
    {
      id: string;
      title: string;
      description: string;
      newest: number;
      versions: Record<string, unknown>[];
    }
  >();
  try {
    for (const [n, file] of files.entries()) {
      const path = join(folder, file);
      const unpacked = join(work, String(n));
      const extracted = await extractPackage(path, unpacked).catch((error: unknown) => {
        throw new AppvisorError('PACKAGE_INVALID', `${file}: ${(error as Error).message}`);
      });
      const manifest = await readManifest(unpacked, extracted.id)
        .then(async (read) => {
          await checkStaticFolder(unpacked, read);
          return read;
        })
        .catch((error: unknown) => {
          throw new AppvisorError('PACKAGE_INVALID', `${file}: ${(error as Error).message}`);
        });
      await rm(unpacked, { recursive: true, force: true });
      if (manifest.version === undefined || manifest.build === undefined) {
        throw new AppvisorError(
          'PACKAGE_INVALID',
          `${file}: app.json must give a version and a build for an app store`,
        );
      }
      const size = (await stat(path)).size;
      const sha256 = await sha256Of(path);
      const facts = {
        id: extracted.id,
        version: manifest.version,
        build: manifest.build,
        sha256,
        size,
      };
      const app = byId.get(extracted.id) ?? {
        id: extracted.id,
        title: '',
        description: '',
        newest: -1,
        versions: [],
      };
      if (app.versions.some((v) => v.build === manifest.build)) {
        throw new AppvisorError(
          'PACKAGE_INVALID',
          `${file}: build ${manifest.build} of ${extracted.id} is in the folder twice`,
        );
      }
      if (manifest.build > app.newest) {
        app.newest = manifest.build;
        app.title = manifest.title ?? '';
        app.description = manifest.description ?? '';
      }
      app.versions.push({
        version: manifest.version,
        build: manifest.build,
        label: manifest.label ?? 'final',
        url: encodeURIComponent(file),
        sha256,
        size,
        ...(options.key ? { signature: signBytes(packageStatement(facts), options.key) } : {}),
      });
      byId.set(extracted.id, app);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const apps = [...byId.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map(({ id, title, description, versions }) => ({
      id,
      title,
      description,
      versions: versions.sort((a, b) => (b.build as number) - (a.build as number)),
    }));
  const text = `${JSON.stringify(
    {
      format: 1,
      ...(options.name ? { name: options.name } : {}),
      ...times,
      apps,
    },
    null,
    2,
  )}\n`;
  const index = join(folder, 'apps.json');
  await writeFileAtomic(index, text, 0o644);
  let signature: string | null = null;
  if (options.key) {
    signature = `${index}.sig`;
    await writeFileAtomic(signature, `${signBytes(Buffer.from(text), options.key)}\n`, 0o644);
  } else {
    // A signature of an older index would not match the new one.
    await rm(`${index}.sig`, { force: true });
  }
  return {
    index,
    signature,
    apps: apps.map((app) => ({
      id: app.id,
      versions: app.versions.map((v) => ({
        version: v.version as string,
        build: v.build as number,
        file: decodeURIComponent(v.url as string),
      })),
    })),
  };
}
