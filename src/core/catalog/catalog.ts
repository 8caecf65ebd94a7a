import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { syncFolder } from '../../lib/atomic-write.js';
import { writeReproducibleTar } from '../../lib/reproducible-tar.js';
import { emptyFolder, ensureFolder, openFolder, removeTree } from '../../lib/safe-fs.js';
import type { Store } from '../store/index.js';
import { checkAppId, checkStaticFolder, readManifest, type Manifest } from './manifest.js';
import { extractPackage, type PackageLimits } from './package-reader.js';

/** An installed app as the store keeps it; version and title come from its folder. */
export interface AppRecord {
  id: string;
  autostart: boolean;
  logMaxBytes: number | null;
  logFiles: number | null;
  /** The system user it runs as (root only), else null. */
  unixUser: string | null;
  /** Its resource limits; null: the configured default (`apps.memoryMaxBytes`, ...). */
  memoryMaxBytes: number | null;
  cpuWeight: number | null;
  pidsMax: number | null;
  /** Pid (= process group) of its process while it runs, to find it after a manager crash. */
  pid: number | null;
  installedAt: string;
}

/** Options of {@link Catalog}. */
export interface CatalogOptions {
  store: Store;
  nodeId: string;
  /** `<data>/apps` */
  appsDir: string;
  /** `<data>/appdata` */
  appdataDir: string;
  limits?: Partial<PackageLimits>;
}

interface Row {
  id: string;
  autostart: boolean;
  log_max_bytes: string | null;
  log_files: number | null;
  unix_user: string | null;
  memory_max_bytes: string | null;
  cpu_weight: number | null;
  pids_max: number | null;
  pid: number | null;
  installed_at: Date;
}

const columns =
  'id, autostart, log_max_bytes, log_files, unix_user, memory_max_bytes, cpu_weight, pids_max, pid, installed_at';

/** Settings the admin changes on an installed app (`app configure`); null: the default. */
export interface AppSettingsChange {
  autostart?: boolean;
  logMaxBytes?: number | null;
  logFiles?: number | null;
  memoryMaxBytes?: number | null;
  cpuWeight?: number | null;
  pidsMax?: number | null;
}

function toRecord(row: Row): AppRecord {
  return {
    id: row.id,
    autostart: row.autostart,
    logMaxBytes: row.log_max_bytes === null ? null : Number(row.log_max_bytes),
    logFiles: row.log_files,
    unixUser: row.unix_user,
    memoryMaxBytes: row.memory_max_bytes === null ? null : Number(row.memory_max_bytes),
    cpuWeight: row.cpu_weight,
    pidsMax: row.pids_max,
    pid: row.pid,
    installedAt: row.installed_at.toISOString(),
  };
}

/** A package unpacked and checked, waiting to be swapped in. */
export interface StagedPackage {
  id: string;
  folder: string;
  manifest: Manifest;
}

/**
 * The user names an app may get when the manager is root, in order: `av-<id>` when that is a
 * valid user name, else a shortened name with a hash of the id; then names with a hash of the
 * id and a counter. Which one an app has is kept in the store ({@link Catalog.userOwner}): a
 * name is only a wish, since another app's name or an account on the system may take it.
 */
export function unixUserCandidates(id: string, count = 20): string[] {
  const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 8);
  const short = id.toLowerCase().slice(0, 20);
  const plain = `av-${id}`;
  const names = [id === id.toLowerCase() && plain.length <= 32 ? plain : `av-${short}-${hash(id)}`];
  for (let n = 1; names.length < count; n++) names.push(`av-${short}-${hash(`${id}\n${n}`)}`);
  return names;
}

/**
 * A user name for an app that nobody can have made in advance: the shortened id and random
 * hex. Taken when every name of {@link unixUserCandidates} exists already (accounts left by
 * crashed installs, or made to squat the predictable names).
 */
export function randomUnixUserName(id: string): string {
  return `av-${id.toLowerCase().slice(0, 20)}-${randomBytes(4).toString('hex')}`;
}

/**
 * The installed apps: their folders under `<data>/apps` and their rows in the store. Every
 * change to a folder is staged beside it and swapped in with renames, so a crash leaves the
 * old version or the new one, never a mix.
 */
export class Catalog {
  readonly #options: CatalogOptions;

  constructor(options: CatalogOptions) {
    this.#options = options;
  }

  /** The installed folder of an app. */
  folder(id: string): string {
    return join(this.#options.appsDir, id);
  }

  /** The app's writable folder. */
  dataFolder(id: string): string {
    return join(this.#options.appdataDir, id);
  }

  /** Whether the app's folder holds a regular file `run`; asked anew every time. */
  async isRunnable(id: string): Promise<boolean> {
    const info = await lstat(join(this.folder(id), 'run')).catch(() => undefined);
    return info?.isFile() ?? false;
  }

  /** Whether the app's folder is there. */
  async hasFolder(id: string): Promise<boolean> {
    const info = await stat(this.folder(id)).catch(() => undefined);
    return info?.isDirectory() ?? false;
  }

  async manifest(id: string): Promise<Manifest> {
    return readManifest(this.folder(id), id);
  }

  async list(): Promise<AppRecord[]> {
    const result = await this.#options.store.query<Row>(
      `SELECT ${columns} FROM apps WHERE node_id = $1 ORDER BY id`,
      [this.#options.nodeId],
    );
    return result.rows.map(toRecord);
  }

  async get(id: string): Promise<AppRecord | undefined> {
    const result = await this.#options.store.query<Row>(
      `SELECT ${columns} FROM apps WHERE node_id = $1 AND id = $2`,
      [this.#options.nodeId, id],
    );
    const row = result.rows[0];
    return row ? toRecord(row) : undefined;
  }

  /**
   * Inserts or updates the row; `installedAt` is set on insert and on every install. The
   * resource limits are kept: only {@link update} changes them.
   */
  async save(
    record: Omit<AppRecord, 'installedAt' | 'pid' | 'memoryMaxBytes' | 'cpuWeight' | 'pidsMax'>,
  ): Promise<void> {
    await this.#options.store.query(
      `INSERT INTO apps (node_id, id, autostart, log_max_bytes, log_files, unix_user, installed_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now(), now())
       ON CONFLICT (node_id, id) DO UPDATE SET autostart = excluded.autostart,
         log_max_bytes = excluded.log_max_bytes, log_files = excluded.log_files,
         unix_user = excluded.unix_user, installed_at = now(), updated_at = now(),
         package_sha256 = NULL`,
      [
        this.#options.nodeId,
        record.id,
        record.autostart,
        record.logMaxBytes,
        record.logFiles,
        record.unixUser,
      ],
    );
  }

  /** Changes settings of an installed app without touching its install time. */
  async update(id: string, change: AppSettingsChange): Promise<void> {
    const current = await this.get(id);
    if (!current) return;
    const pick = <K extends keyof AppSettingsChange & keyof AppRecord>(key: K) =>
      change[key] === undefined ? current[key] : change[key];
    await this.#options.store.query(
      `UPDATE apps SET autostart = $3, log_max_bytes = $4, log_files = $5, memory_max_bytes = $6,
         cpu_weight = $7, pids_max = $8, updated_at = now()
       WHERE node_id = $1 AND id = $2`,
      [
        this.#options.nodeId,
        id,
        change.autostart ?? current.autostart,
        change.logMaxBytes === undefined ? current.logMaxBytes : change.logMaxBytes,
        change.logFiles === undefined ? current.logFiles : change.logFiles,
        pick('memoryMaxBytes'),
        pick('cpuWeight'),
        pick('pidsMax'),
      ],
    );
  }

  /** Remembers the pid of the app's process (null when it ended). */
  async setPid(id: string, pid: number | null): Promise<void> {
    await this.#options.store.query('UPDATE apps SET pid = $3 WHERE node_id = $1 AND id = $2', [
      this.#options.nodeId,
      id,
      pid,
    ]);
  }

  /** The app of this node whose user `name` is, if any. */
  async userOwner(name: string): Promise<string | undefined> {
    const result = await this.#options.store.query<{ id: string }>(
      'SELECT id FROM apps WHERE node_id = $1 AND unix_user = $2',
      [this.#options.nodeId, name],
    );
    return result.rows[0]?.id;
  }

  /**
   * Records the app's user. The store refuses a name another app of this node has already
   * (a unique index), whatever raced.
   */
  async setUnixUser(id: string, name: string): Promise<void> {
    await this.#options.store.query(
      'UPDATE apps SET unix_user = $3, updated_at = now() WHERE node_id = $1 AND id = $2',
      [this.#options.nodeId, id, name],
    );
  }

  async remove(id: string): Promise<void> {
    await this.#options.store.query('DELETE FROM apps WHERE node_id = $1 AND id = $2', [
      this.#options.nodeId,
      id,
    ]);
  }

  /**
   * Unpacks an archive beside the installed apps (same filesystem, so the swap is a rename),
   * checks it and its app.json, and makes `run` executable. Nothing installed is touched.
   */
  async stage(archivePath: string, expectedId?: string): Promise<StagedPackage> {
    if (expectedId !== undefined) checkAppId(expectedId);
    const folder = join(this.#options.appsDir, `.staging-${randomBytes(6).toString('hex')}`);
    const extracted = await extractPackage(archivePath, folder, {
      ...(expectedId !== undefined ? { expectedId } : {}),
      ...(this.#options.limits ? { limits: this.#options.limits } : {}),
    });
    try {
      const manifest = await readManifest(folder, extracted.id);
      await checkStaticFolder(folder, manifest);
      const run = await lstat(join(folder, 'run')).catch(() => undefined);
      if (run?.isFile()) await chmod(join(folder, 'run'), (run.mode & 0o777) | 0o755);
      return { id: extracted.id, folder, manifest };
    } catch (error) {
      await rm(folder, { recursive: true, force: true });
      throw error;
    }
  }

  /** Throws a staged package away. */
  async discard(staged: StagedPackage): Promise<void> {
    await rm(staged.folder, { recursive: true, force: true });
  }

  /**
   * Puts a staged package in place of the installed folder. Returns the previous folder's
   * temporary name (or null), to be removed with {@link dropPrevious} or put back with
   * {@link restorePrevious}. A crash in between is repaired by {@link recover}.
   */
  async swapIn(staged: StagedPackage): Promise<string | null> {
    const target = this.folder(staged.id);
    let previous: string | null = join(
      this.#options.appsDir,
      `.old-${staged.id}-${randomBytes(6).toString('hex')}`,
    );
    try {
      await rename(target, previous);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      previous = null;
    }
    try {
      await rename(staged.folder, target);
    } catch (error) {
      if (previous) await rename(previous, target);
      throw error;
    }
    await syncFolder(this.#options.appsDir);
    return previous;
  }

  async dropPrevious(previous: string | null): Promise<void> {
    if (previous) await rm(previous, { recursive: true, force: true });
  }

  /** Puts the previous folder back (the new one is removed). */
  async restorePrevious(id: string, previous: string | null): Promise<void> {
    const target = this.folder(id);
    await rm(target, { recursive: true, force: true });
    if (previous) await rename(previous, target);
    await syncFolder(this.#options.appsDir);
  }

  /**
   * Writes the installed folder as a tar package (`<id>/...`, modes kept, owners not) to
   * `target`, fsynced: a package that {@link stage} takes back. `reproducible`: the same
   * package gives the same bytes on every machine (entries in order, times zeroed), as a
   * cluster's package of the app must (lib/reproducible-tar.ts).
   */
  async archive(
    id: string,
    target: string,
    options: { reproducible?: boolean } = {},
  ): Promise<void> {
    if (options.reproducible) await writeReproducibleTar(this.#options.appsDir, id, target);
    else await createTar({ cwd: this.#options.appsDir, file: target, portable: true }, [id]);
    const handle = await open(target, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /**
   * Removes an app's installed and writable folders. The writable one is its user's, who may
   * have put links in it or swap folders for links while it is removed: removed without
   * following any (safe-fs).
   */
  async removeFolders(id: string): Promise<void> {
    await removeTree(this.folder(id));
    await removeTree(this.dataFolder(id));
  }

  /**
   * Makes the app's writable folder (0700, owned by its user when given) and, with `purge`,
   * empties it except for the entries in `keep` (instance folders).
   */
  async prepareDataFolder(
    id: string,
    owner: { uid: number; gid: number } | null,
    purge: boolean,
    keep: ReadonlySet<string> = new Set(),
  ): Promise<void> {
    const folder = this.dataFolder(id);
    // <appdata> is root's: the folder's own name cannot be swapped, its content can. Everything
    // inside is its user's, so it is emptied without following links (safe-fs).
    await mkdir(this.#options.appdataDir, { recursive: true, mode: 0o711 });
    await ensureFolder(folder, 0o700, owner);
    if (purge) {
      const handle = await openFolder(folder);
      try {
        await emptyFolder(handle, keep);
      } finally {
        await handle.close();
      }
    }
  }

  /**
   * Repairs what a crash during an install left: a previous folder whose new one never
   * arrived is put back; leftovers of staging and of swaps are removed.
   */
  async recover(): Promise<string[]> {
    const repaired: string[] = [];
    const entries = await readdir(this.#options.appsDir).catch(() => [] as string[]);
    for (const entry of entries) {
      const old = /^\.old-(.+)-[0-9a-f]{12}$/.exec(entry);
      if (old) {
        const id = old[1]!;
        if (await this.hasFolder(id)) {
          await rm(join(this.#options.appsDir, entry), { recursive: true, force: true });
        } else {
          await rename(join(this.#options.appsDir, entry), this.folder(id));
          repaired.push(id);
        }
      } else if (entry.startsWith('.staging-') || entry.startsWith('.incoming-')) {
        await rm(join(this.#options.appsDir, entry), { recursive: true, force: true });
      }
    }
    return repaired;
  }
}
