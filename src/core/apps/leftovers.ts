import type { Logger } from '../../lib/logger.js';
import { lookupUser, removeSystemUser } from '../../lib/os-users.js';
import {
  commandLine,
  isAlive,
  listProcesses,
  processInfo,
  waitForExit,
} from '../../lib/processes.js';
import type { AppRecord, Catalog } from '../catalog/index.js';
import type { Journal } from '../store/index.js';
import { signalGroup, type Sandbox } from '../supervisor/index.js';
import { appUserKind } from './app-users.js';

/** What the clean-up of a killed manager's leftovers needs. */
export interface LeftoverOptions {
  catalog: Pick<Catalog, 'folder' | 'setPid' | 'userOwner'>;
  logger: Logger;
  sandbox?: Pick<Sandbox, 'killAll'> | undefined;
  /** How long a leftover process may take to end after TERM. */
  graceMs: number;
}

/** A process of this app that a killed manager left behind: its whole group is stopped. */
export async function stopLeftover(options: LeftoverOptions, record: AppRecord): Promise<void> {
  const { catalog, logger } = options;
  const pid = record.pid!;
  const argv = await commandLine(pid);
  const folder = catalog.folder(record.id);
  if (isAlive(pid) && argv?.some((part) => part.startsWith(folder))) {
    logger.warn({ app: record.id, pid }, 'stopping a process left by a previous manager');
    signalGroup(pid, 'SIGTERM');
    if (!(await waitForExit(pid, options.graceMs))) signalGroup(pid, 'SIGKILL');
    await waitForExit(pid, 5_000);
  }
  // Strays of that group, if any, go too.
  try {
    signalGroup(pid, 'SIGKILL');
  } catch {
    // not ours to signal
  }
  // And anything of the app left in its control groups.
  options.sandbox?.killAll(record.id);
  await catalog.setPid(record.id, null);
}

/**
 * Stops processes of the app that its row does not name: a manager killed between a spawn
 * and the write of its pid leaves one running, which would run beside the new one. As root
 * they are the processes of the app's own user, which nothing else runs as; otherwise those
 * that run a file of the app's folder. Their process groups are stopped, TERM then KILL.
 */
export async function stopStrays(options: LeftoverOptions, record: AppRecord): Promise<void> {
  const uid = record.unixUser ? (await lookupUser(record.unixUser))?.uid : undefined;
  if (record.unixUser && uid === undefined) return;
  const folder = `${options.catalog.folder(record.id)}/`;
  const strays = await listProcesses((info) =>
    uid !== undefined ? info.uid === uid : info.argv.some((part) => part.startsWith(folder)),
  );
  if (strays.length === 0) return;
  options.logger.warn(
    { app: record.id, pids: strays.map((info) => info.pid) },
    'stopping processes of the app that a previous manager left running',
  );
  const ownGroup = (await processInfo(process.pid))?.pgrp ?? -1;
  const signalAll = (name: NodeJS.Signals) => {
    for (const info of strays) {
      try {
        if (info.pgrp > 1 && info.pgrp !== ownGroup) signalGroup(info.pgrp, name);
        else process.kill(info.pid, name);
      } catch {
        // gone meanwhile
      }
    }
  };
  signalAll('SIGTERM');
  const deadline = Date.now() + options.graceMs;
  for (const info of strays) await waitForExit(info.pid, Math.max(0, deadline - Date.now()));
  signalAll('SIGKILL');
}

/**
 * Removes the system users that installs cut off by a crash made and no app's row names
 * (see {@link appUserKind}).
 */
export async function dropCutOffUsers(options: LeftoverOptions, journal: Journal): Promise<void> {
  for (const entry of await journal.pending<{ user: string }>(appUserKind)) {
    const { user } = entry.data;
    if ((await options.catalog.userOwner(user)) === undefined) {
      options.logger.warn(
        { app: entry.subject, user },
        'removing the user of an app install that was cut off',
      );
      await removeSystemUser(user);
    }
    await journal.end(appUserKind, entry.subject);
  }
}
