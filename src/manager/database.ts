import { userInfo } from 'node:os';
import { join } from 'node:path';
import {
  EmbeddedPostgres,
  ExternalPostgres,
  placeCluster,
  serverUser,
  type DatabaseServer,
} from '../core/database/index.js';
import { ensureSystemUser } from '../lib/os-users.js';
import type { Basis } from './basis.js';

/**
 * The database server the configuration names: the one at `database.url`, or the embedded
 * one, its cluster placed where the server's user can reach it (in the data folder, or outside
 * it when that folder is closed to that user: said in the log).
 */
export async function databaseServer(
  basis: Basis,
  stopping?: AbortSignal,
): Promise<DatabaseServer> {
  const { config, layout, nodeId, isRoot, logger } = basis;
  if (config.database.url) {
    return new ExternalPostgres({
      url: config.database.url,
      logger,
      startWaitMs: config.database.startWaitSeconds * 1000,
      ...(stopping ? { stopping } : {}),
    });
  }
  const placement = await placeCluster({
    localDir: layout.pg,
    runDir: layout.run,
    fallbackDir: config.database.fallbackDir,
    nodeId,
    user: isRoot ? await ensureSystemUser(serverUser) : undefined,
  });
  if (placement.outside) {
    logger.warn(
      { cluster: placement.dataDir },
      'the postgres user cannot reach the data folder: the database lives outside it',
    );
  }
  return new EmbeddedPostgres({
    dataDir: placement.dataDir,
    socketDir: placement.socketDir,
    binariesDir: placement.binariesDir,
    logFile: join(layout.logs, 'postgres.log'),
    port: config.database.port,
    maxConnections: config.database.maxConnections,
    startTimeoutMs: config.database.startTimeoutSeconds * 1000,
    managerUser: isRoot ? 'root' : userInfo().username,
    isRoot,
    logger,
  });
}
