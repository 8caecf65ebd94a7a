/**
 * Preparing the embedded cluster before its server starts: the binaries and the server's user,
 * the folders, a server left over by a killed manager, initdb on the first start, and the
 * access rules rewritten at every start.
 */
import { chown, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { blockingFolder } from '../../lib/folder-access.js';
import type { Logger } from '../../lib/logger.js';
import { ensureSystemUser, type SystemUser } from '../../lib/os-users.js';
import { commandLine, isAlive, signal, waitForExit } from '../../lib/processes.js';
import { AppvisorError } from '../errors/index.js';
import {
  findPostgresBinaries,
  runPostgresProgram,
  stageBinaries,
  type PostgresBinaries,
} from '../../lib/postgres-binaries.js';
import { checkServerCanReach, serverUser } from './placement.js';

/** The major version the cluster format must have. */
const pgMajor = '18';
/** Longest path the kernel accepts for a Unix socket (sun_path less the terminator). */
const maxSocketPath = 107;
/** The cluster's superuser; the manager logs in as it by peer authentication. */
export const superuser = 'postgres';

/** Where the cluster is and who runs it. */
export interface ClusterOptions {
  dataDir: string;
  socketDir: string;
  /** Where a copy of the binaries goes when the server's user cannot reach node_modules. */
  binariesDir: string;
  /** OS user name of the manager, mapped to the `postgres` role for peer login. */
  managerUser: string;
  isRoot: boolean;
  logger: Logger;
}

/** What a prepared cluster is served with. */
export interface PreparedCluster {
  binaries: PostgresBinaries;
  /** The server's own user (as root), undefined when it runs as the manager's user. */
  user: SystemUser | undefined;
}

/** The environment of every PostgreSQL program the manager runs. */
export function serverEnvironment(): Record<string, string> {
  return { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' };
}

/** Readies the cluster for a start; see the file's header. */
export async function prepareCluster(options: ClusterOptions): Promise<PreparedCluster> {
  const socketPath = join(options.socketDir, `.s.PGSQL.65535`);
  if (socketPath.length > maxSocketPath) {
    throw new AppvisorError(
      'DATA_DIR_UNUSABLE',
      `the data folder path is too long for the database's Unix socket (${socketPath.length} > ${maxSocketPath} characters); choose a shorter --data`,
    );
  }
  let binaries = await findPostgresBinaries();
  let user: SystemUser | undefined;
  if (options.isRoot) {
    user = await ensureSystemUser(serverUser);
    if (await blockingFolder(binaries.root, user)) {
      // node_modules sits where the server's user cannot go: run a copy from the data folder.
      options.logger.info(
        { folder: options.binariesDir },
        'copying the PostgreSQL binaries for the postgres user',
      );
      binaries = await stageBinaries(binaries, options.binariesDir);
    }
  }
  const cluster = { binaries, user };
  await prepareFolders(options, user);
  await stopLeftover(options);
  if (!(await clusterExists(options.dataDir))) await initdb(options, cluster);
  await writeAccessRules(options, user);
  return cluster;
}

/** Folders the server user must own; their parents must let it pass. */
async function prepareFolders(options: ClusterOptions, user: SystemUser | undefined) {
  const { dataDir, socketDir } = options;
  await mkdir(socketDir, { recursive: true, mode: 0o700 });
  if (user) {
    await chown(socketDir, user.uid, user.gid);
    await checkServerCanReach(dataDir, user);
  }
}

async function clusterExists(dataDir: string): Promise<boolean> {
  let version: string;
  try {
    version = (await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).trim();
  } catch {
    const entries = await readdir(dataDir).catch(() => [] as string[]);
    if (entries.length > 0) {
      throw new AppvisorError(
        'DATA_DIR_UNUSABLE',
        `${dataDir} is not empty but holds no PostgreSQL cluster; move it away to start afresh`,
      );
    }
    return false;
  }
  if (version !== pgMajor) {
    throw new AppvisorError(
      'DATA_DIR_UNUSABLE',
      `${dataDir} holds a PostgreSQL ${version} cluster; this appvisor runs PostgreSQL ${pgMajor} (upgrade the cluster with pg_upgrade first)`,
    );
  }
  return true;
}

/** Makes the cluster in a temporary folder and renames it into place when complete. */
async function initdb(options: ClusterOptions, cluster: PreparedCluster): Promise<void> {
  const { dataDir, logger } = options;
  const { user } = cluster;
  const temp = `${dataDir}.init`;
  await rm(temp, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(temp, { mode: 0o700 });
  if (user) await chown(temp, user.uid, user.gid);
  logger.info('creating the embedded PostgreSQL cluster');
  const output = await runPostgresProgram(
    cluster.binaries.initdb,
    [
      '-D',
      temp,
      '-U',
      superuser,
      '-E',
      'UTF8',
      '--locale=C',
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
      '--no-instructions',
    ],
    serverEnvironment(),
    cluster.user,
  );
  if (output.code !== 0) {
    await rm(temp, { recursive: true, force: true });
    throw new Error(
      `initdb failed (exit ${output.code}): ${output.text.trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  await rename(temp, dataDir);
}

/** pg_hba.conf and pg_ident.conf are the manager's: rewritten at every start. */
async function writeAccessRules(options: ClusterOptions, user: SystemUser | undefined) {
  const { dataDir, managerUser } = options;
  const hba = [
    '# Written by appvisor at every start; edits are lost.',
    `local all ${superuser} peer map=manager`,
    'local all all scram-sha-256',
    'host all all 127.0.0.1/32 scram-sha-256',
    '',
  ].join('\n');
  const ident = [
    '# Written by appvisor at every start.',
    `manager ${managerUser} ${superuser}`,
    '',
  ].join('\n');
  for (const [name, text] of [
    ['pg_hba.conf', hba],
    ['pg_ident.conf', ident],
  ] as const) {
    const path = join(dataDir, name);
    await writeFileAtomic(path, text, 0o600);
    if (user) await chown(path, user.uid, user.gid);
  }
}

/**
 * A server left running by a manager that was killed would hold the cluster: stop it
 * (fast shutdown, then harder) before starting ours. The manager lock guarantees that no
 * live manager owns it.
 */
async function stopLeftover(options: ClusterOptions): Promise<void> {
  const pidFile = join(options.dataDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!(pid > 0) || !isAlive(pid)) return;
  const argv = await commandLine(pid);
  if (!argv?.[0]?.endsWith('postgres')) return;
  options.logger.warn({ pid }, 'stopping a database server left over by a previous manager');
  await terminate(pid);
}

/**
 * Fast shutdown, then immediate shutdown, then SIGKILL to the whole process group: the stop
 * plan of postmaster.ts, for a server that is not the supervisor's.
 */
async function terminate(pid: number): Promise<void> {
  signal(pid, 'SIGINT');
  if (await waitForExit(pid, 15_000)) return;
  signal(pid, 'SIGQUIT');
  if (await waitForExit(pid, 5_000)) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    signal(pid, 'SIGKILL');
  }
  await waitForExit(pid, 5_000);
}
