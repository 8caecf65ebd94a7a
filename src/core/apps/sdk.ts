import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import type { Logger } from '../../lib/logger.js';
import { ensureFolder } from '../../lib/safe-fs.js';

/**
 * Copies the SDK bundle where app users can read it: the manager's own folder may be private
 * (a checkout in /root, say). Resolves to the copy's file URL (APPVISOR_SDK), or undefined
 * when there is no bundle to copy.
 */
export async function stageSdk(
  runDir: string,
  source: string | undefined,
  logger: Logger,
): Promise<string | undefined> {
  if (!source) return undefined;
  const folder = join(runDir, 'sdk');
  await mkdir(folder, { recursive: true, mode: 0o755 });
  await chmod(folder, 0o755);
  const target = join(folder, 'appvisor-sdk.mjs');
  try {
    await writeFileAtomic(target, await readFile(source), 0o644);
    return pathToFileURL(target).href;
  } catch (error) {
    logger.warn({ err: error }, 'the SDK bundle is missing: services cannot import APPVISOR_SDK');
    return undefined;
  }
}

/** Where a service listens for HTTP (in <data>/run, short enough for a socket path). */
export function socketDir(runDir: string, id: string): string {
  return join(runDir, 'apps', createHash('sha256').update(id).digest('hex').slice(0, 16));
}

/** The one socket the front connects to for this app's instances. */
export function httpSocketPath(runDir: string, id: string): string {
  return join(socketDir(runDir, id), 'http.sock');
}

/** The folder of a service's HTTP socket: the app's user owns it, nobody else may enter. */
export async function prepareSocketDir(
  runDir: string,
  id: string,
  owner: { uid: number; gid: number } | null,
): Promise<void> {
  // run/apps must let every app user pass; each app's own folder is closed to the others.
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  await ensureFolder(join(runDir, 'apps'), 0o711);
  // Its user may swap the folder's content, never its name (run/apps is root's); changed
  // through a descriptor all the same, so no link is ever followed (safe-fs).
  await ensureFolder(socketDir(runDir, id), 0o700, owner);
}
