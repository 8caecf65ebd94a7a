import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { create as createTar } from 'tar';

/** Every path below `cwd/base`, depth first, in byte order; links are listed, never followed. */
async function treeOf(cwd: string, base: string): Promise<string[]> {
  const out = [base];
  for (const name of (await readdir(join(cwd, base))).sort()) {
    const path = join(base, name);
    if ((await lstat(join(cwd, path))).isDirectory()) out.push(...(await treeOf(cwd, path)));
    else out.push(path);
  }
  return out;
}

/**
 * Writes the folder `cwd/base` as a tar file at `target` that depends on its contents and
 * modes only: entries in byte order, times zeroed, owners left out (`portable`), links stored
 * as links. The same tree on two machines gives the same bytes, so the same sha256.
 */
export async function writeReproducibleTar(
  cwd: string,
  base: string,
  target: string,
): Promise<void> {
  await createTar(
    { cwd, file: target, portable: true, noDirRecurse: true, mtime: new Date(0) },
    await treeOf(cwd, base),
  );
}
