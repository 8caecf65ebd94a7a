import { lstat } from 'node:fs/promises';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import type { Logger } from '../../lib/logger.js';
import {
  createSystemUser,
  ensureSystemUser,
  lookupUser,
  removeSystemUser,
  type SystemUser,
} from '../../lib/os-users.js';
import { noPause, type Pause } from '../../lib/pause-points.js';
import { chownTree } from '../../lib/safe-fs.js';
import { randomUnixUserName, unixUserCandidates, type Catalog } from '../catalog/index.js';
import { AppvisorError } from '../errors/index.js';
import type { Journal } from '../store/index.js';

/**
 * Journal kind of a system user made for a new app: written before the user is made, ended
 * once the app's row names it (or the install is undone), so that the user of an install a
 * crash cut off is removed at the next start.
 */
export const appUserKind = 'app-user';

/** uid and gid of an app's system user. */
export interface Owner {
  uid: number;
  gid: number;
}

/** What {@link AppUsers} needs. */
export interface AppUsersOptions {
  /** Which app of this node has a user name, and where data folders are. */
  catalog: Pick<Catalog, 'userOwner' | 'dataFolder'>;
  journal: Journal;
  logger: Logger;
  pause?: Pause | undefined;
}

/**
 * The apps' system users (the manager is root): made for a new app with a name nobody else
 * has, looked up once and remembered, removed with the app.
 */
export class AppUsers {
  readonly #options: AppUsersOptions;
  /** uid/gid of the apps' system users, looked up when the app is installed or loaded. */
  readonly #owners = new Map<string, Owner>();
  /** Serializes the choice of new users' names, so two installs never pick the same one. */
  readonly #choice = new KeyedQueue();

  constructor(options: AppUsersOptions) {
    this.#options = options;
  }

  /** uid/gid of a user this service knows (made, or looked up by {@link ensure}). */
  owner(name: string | null | undefined): Owner | undefined {
    return name ? this.#owners.get(name) : undefined;
  }

  /** Whether {@link owner} knows the user already. */
  knows(name: string): boolean {
    return this.#owners.has(name);
  }

  /** The user recorded for an app: its own, made again if the system lost it. */
  async ensure(name: string): Promise<SystemUser> {
    const user = await ensureSystemUser(name);
    this.#owners.set(name, { uid: user.uid, gid: user.gid });
    return user;
  }

  /**
   * Makes a system user for an app: the first of its candidate names that no app of this node
   * has in the store and that does not exist on the system. An existing account is never
   * taken over, even with the very name the app would get: something else made it (and an app
   * could choose its id to get that name). When every predictable name exists, a random one
   * is taken; APP_USER_UNAVAILABLE only when those are taken too (user creation fails).
   */
  async create(id: string): Promise<SystemUser> {
    const { catalog, journal, logger } = this.#options;
    return this.#choice.run('', async () => {
      const random = Array.from({ length: 10 }, () => randomUnixUserName(id));
      for (const name of [...unixUserCandidates(id), ...random]) {
        if ((await catalog.userOwner(name)) !== undefined) continue;
        if (await lookupUser(name)) continue;
        await journal.begin(appUserKind, id, 'creating', { user: name });
        const user = await createSystemUser(name);
        if (!user) {
          // Made meanwhile by something else: not ours to remove after a crash.
          await journal.end(appUserKind, id);
          continue;
        }
        await (this.#options.pause ?? noPause)('app.user');
        this.#owners.set(name, { uid: user.uid, gid: user.gid });
        logger.info({ app: id, user: name, uid: user.uid }, 'made the app user');
        return user;
      }
      throw new AppvisorError(
        'APP_USER_UNAVAILABLE',
        `no free system user name for ${id}: every name it could get is taken`,
      );
    });
  }

  /**
   * Gives an existing data folder, all of it, to the app's new user (links not followed): the
   * files an earlier user of the app made stay the app's.
   */
  async giveDataFolder(id: string, user: SystemUser): Promise<void> {
    const folder = this.#options.catalog.dataFolder(id);
    const info = await lstat(folder).catch(() => undefined);
    if (info?.isDirectory()) await chownTree(folder, user.uid, user.gid);
  }

  /** Removes an app's user unless another app of this node has it (which the store forbids). */
  async drop(name: string): Promise<void> {
    if ((await this.#options.catalog.userOwner(name)) !== undefined) return;
    this.#owners.delete(name);
    await removeSystemUser(name);
  }
}
