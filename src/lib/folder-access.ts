import { stat } from 'node:fs/promises';
import type { SystemUser } from './os-users.js';

/** The first existing folder on the way to `path` that `user` may not pass, if any. */
export async function blockingFolder(
  path: string,
  user: SystemUser,
): Promise<{ dir: string; mode: number } | undefined> {
  const parts = path.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const info = await stat(dir).catch(() => undefined);
    // A missing folder is made later; a file in the way is reported by the data folder check.
    if (!info?.isDirectory()) return undefined;
    const passable =
      (info.mode & 0o001) !== 0 ||
      (info.uid === user.uid && (info.mode & 0o100) !== 0) ||
      (info.gid === user.gid && (info.mode & 0o010) !== 0);
    if (!passable) return { dir, mode: info.mode & 0o777 };
  }
  return undefined;
}
