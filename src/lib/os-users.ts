import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** How long a locked /etc/passwd is waited for, in all. */
const lockWaitMs = 5000;

/**
 * Runs useradd/userdel, again when it failed because another one holds the lock of
 * /etc/passwd or /etc/group (shadow's "cannot lock": exit code 1 or 10) until `lockWaitMs`.
 */
async function runLocked(command: string, args: string[]): Promise<void> {
  const deadline = Date.now() + lockWaitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await run(command, args);
      return;
    } catch (error) {
      const { code, stderr } = error as { code?: number; stderr?: string };
      const locked = (code === 1 || code === 10) && /lock/i.test(stderr ?? '');
      if (!locked || Date.now() >= deadline) throw error;
      await sleep(Math.min(20 * attempt, 200) + Math.random() * 20);
    }
  }
}

const useraddArgs = [
  '--system',
  '--user-group',
  '--no-create-home',
  '--home-dir',
  '/nonexistent',
  '--shell',
  '/usr/sbin/nologin',
];

/**
 * Creates the system user `name` (no login shell, no home folder, its own group) and returns
 * it; undefined when the name is taken already, by anyone: an existing account is never
 * adopted, so a caller that gets a user knows that it made it. Only root can create users.
 */
export async function createSystemUser(name: string): Promise<SystemUser | undefined> {
  if (await lookupUser(name)) return undefined;
  try {
    await runLocked('useradd', [...useraddArgs, name]);
  } catch (error) {
    // exit code 9: the user name (or a group of that name) exists; made meanwhile by another.
    if ((error as { code?: number }).code === 9) return undefined;
    throw new Error(`cannot create system user ${name}: ${(error as Error).message}`);
  }
  const created = await lookupUser(name);
  if (!created) throw new Error(`system user ${name} was not created`);
  return created;
}

/**
 * Returns the system user `name`, creating it when it does not exist: for accounts whose name
 * belongs to the caller by configuration (the database server's user), never for names
 * derived from something an app chose.
 */
export async function ensureSystemUser(name: string): Promise<SystemUser> {
  const existing = await lookupUser(name);
  if (existing) return existing;
  const created = await createSystemUser(name);
  // Made meanwhile by another process: that one is the same configured account.
  const user = created ?? (await lookupUser(name));
  if (!user) throw new Error(`system user ${name} was not created`);
  return user;
}

/** Removes a system user made by {@link createSystemUser}; a missing one is fine. */
export async function removeSystemUser(name: string): Promise<void> {
  if (!(await lookupUser(name))) return;
  try {
    await runLocked('userdel', [name]);
  } catch (error) {
    // exit code 6: no such user (removed meanwhile)
    if ((error as { code?: number }).code !== 6) {
      throw new Error(`cannot remove system user ${name}: ${(error as Error).message}`);
    }
  }
}
