import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A Unix account as /etc/passwd has it. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Looks a user up in /etc/passwd; undefined when there is none. */
export async function lookupUser(name: string): Promise<SystemUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
    }
  }
  return undefined;
}

/**
 * Returns the system user `name`, creating it (no login shell, no home folder, its own group)
 * when it does not exist. Only root can create users.
 */
export async function ensureSystemUser(name: string): Promise<SystemUser> {
  const existing = await lookupUser(name);
  if (existing) return existing;
  try {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
  } catch (error) {
    // Another process may have created it meanwhile (exit code 9: name in use).
    if ((error as { code?: number }).code !== 9) {
      throw new Error(`cannot create system user ${name}: ${(error as Error).message}`);
    }
  }
  const created = await lookupUser(name);
  if (!created) throw new Error(`system user ${name} was not created`);
  return created;
}

/** Removes a system user made by {@link ensureSystemUser}; a missing one is fine. */
export async function removeSystemUser(name: string): Promise<void> {
  if (!(await lookupUser(name))) return;
  try {
    await run('userdel', [name]);
  } catch (error) {
    // exit code 6: no such user (removed meanwhile)
    if ((error as { code?: number }).code !== 6) {
      throw new Error(`cannot remove system user ${name}: ${(error as Error).message}`);
    }
  }
}
