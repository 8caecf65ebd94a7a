import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { blockingFolder } from '../../lib/folder-access.js';
import type { SystemUser } from '../../lib/os-users.js';
import { AppvisorError } from '../errors/index.js';

/** The system user the embedded server runs as when the manager is root. */
export const serverUser = 'postgres';

/**
 * As root the server runs as {@link serverUser}: every existing folder on the way to `path`
 * must let that user pass. Checked before anything is created, so a data folder the server
 * could never use fails the start at once with the fix in the message.
 */
export async function checkServerCanReach(path: string, user: SystemUser): Promise<void> {
  const blocked = await blockingFolder(path, user);
  if (blocked) {
    throw new AppvisorError(
      'DATA_DIR_UNUSABLE',
      `the database runs as the user ${user.name}, which cannot enter ${blocked.dir} (mode ${blocked.mode.toString(8)}); allow others to pass (chmod o+x ${blocked.dir}) or choose a --data outside it`,
    );
  }
}

/** Where the embedded cluster and its runtime files live. */
export interface ClusterPlacement {
  /** The cluster (PGDATA). */
  dataDir: string;
  /** The server's Unix socket folder. */
  socketDir: string;
  /** Where a copy of the binaries goes when node_modules is out of the server's reach. */
  binariesDir: string;
  /** True when the cluster lives outside the data folder (see {@link placeCluster}). */
  outside: boolean;
}

/** Options of {@link placeCluster}. */
export interface PlacementOptions {
  /** `<data>/pg`, the normal place. */
  localDir: string;
  /** `<data>/run`. */
  runDir: string;
  /** A system folder for clusters whose data folder the server user cannot reach. */
  fallbackDir: string;
  /** This node's id: names the cluster's folder under `fallbackDir`. */
  nodeId: string;
  /** The server's system user (root only); undefined when the server runs as the manager. */
  user: SystemUser | undefined;
}

async function hasCluster(dir: string): Promise<boolean> {
  return stat(join(dir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

/**
 * Chooses where the embedded cluster lives. Normally `<data>/pg`. As root the server runs as
 * its own user, which cannot enter a data folder inside a private folder (a checkout in
 * /root, say); then the cluster goes to `<fallbackDir>/<node id>/` instead of failing the
 * start. An existing cluster is always used where it is.
 */
export async function placeCluster(options: PlacementOptions): Promise<ClusterPlacement> {
  const local: ClusterPlacement = {
    dataDir: options.localDir,
    socketDir: join(options.runDir, 'postgres'),
    binariesDir: options.runDir,
    outside: false,
  };
  const user = options.user;
  if (!user) return local;
  const base = join(options.fallbackDir, options.nodeId);
  const outside: ClusterPlacement = {
    dataDir: join(base, 'pg'),
    socketDir: join(base, 'run'),
    binariesDir: base,
    outside: true,
  };
  if (await hasCluster(local.dataDir)) return local;
  if (await hasCluster(outside.dataDir)) return outside;
  if (!(await blockingFolder(local.dataDir, user))) return local;
  const blocked = await blockingFolder(outside.dataDir, user);
  if (blocked) {
    throw new AppvisorError(
      'DATA_DIR_UNUSABLE',
      `the database runs as the user ${user.name}, which can reach neither the data folder nor ${options.fallbackDir} (${blocked.dir} has mode ${blocked.mode.toString(8)}); allow others to pass (chmod o+x) or choose another --data`,
    );
  }
  await mkdir(base, { recursive: true, mode: 0o711 });
  return outside;
}
