/** Builds app package folders for tests. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AppFiles {
  /** The `run` script's body (a shell script); omitted: the app is not runnable. */
  run?: string;
  manifest?: Record<string, unknown>;
  /** Other files, by path inside the app folder. */
  files?: Record<string, string>;
}

/** Writes `<root>/<id>/` with the given files and returns its path. */
export async function makeAppFolder(root: string, id: string, app: AppFiles): Promise<string> {
  const folder = join(root, id);
  await mkdir(folder, { recursive: true });
  if (app.run !== undefined) {
    await writeFile(join(folder, 'run'), `#!/bin/sh\n${app.run}\n`);
    await chmod(join(folder, 'run'), 0o755);
  }
  if (app.manifest) await writeFile(join(folder, 'app.json'), JSON.stringify(app.manifest));
  for (const [name, content] of Object.entries(app.files ?? {})) {
    const path = join(folder, name);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, content);
  }
  return folder;
}

/** A shell loop that prints a marker and sleeps in small steps, ending cleanly on TERM. */
export function loop(marker: string): string {
  return `trap 'echo stopping; exit 0' TERM\necho "started ${marker} $$"\nwhile true; do sleep 0.2 & wait $!; done`;
}
