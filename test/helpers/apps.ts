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

/**
 * A service whose every instance, at each start, keeps a row in its database and then changes
 * its own role's password with its own credentials, writing down whether that worked.
 */
const roleChangerMain = `
const { createService } = await import(process.env.APPVISOR_SDK);
const { writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
createService({
  async start(instance) {
    await instance.db.query('CREATE TABLE IF NOT EXISTS notes (t text PRIMARY KEY)');
    await instance.db.query("INSERT INTO notes VALUES ('kept') ON CONFLICT DO NOTHING");
    let outcome = 'altered';
    try {
      await instance.db.query("ALTER ROLE current_user PASSWORD 'x'");
    } catch (error) {
      outcome = 'refused: ' + error.message;
    }
    await writeFile(join(instance.dataDir, 'alter.txt'), outcome);
    return {};
  },
});
`;

/** A service app (examples/echo's `run`) with {@link roleChangerMain}. */
export const roleChanger: AppFiles = {
  run: 'exec "${APPVISOR_NODE:-node}" "$APPVISOR_APP_DIR/main.mjs"',
  manifest: { version: '1.0.0', instances: true },
  files: { 'main.mjs': roleChangerMain },
};
