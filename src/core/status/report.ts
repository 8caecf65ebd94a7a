import { version } from '../../lib/version.js';
import type { AlarmService } from '../alarms/index.js';
import type { AppService } from '../apps/index.js';
import type { AppStoreService } from '../appstore/index.js';
import type { BackupService } from '../backup/index.js';
import type { DatabaseServer } from '../database/index.js';
import type { AdminListener, Front } from '../front/index.js';
import type { MonitorSampler } from '../monitor/index.js';
import type { NodeMembership } from '../nodes/index.js';
import type { Store } from '../store/index.js';
import type { ResourceLimits, SandboxInfo } from '../supervisor/index.js';

/** Where the manager is in its life: what `GET /health` and `GET /status` say first. */
export type ManagerState = 'starting' | 'running' | 'stopping';

/** What the status report reads: the narrowest view of each part of the manager. */
export interface StatusSources {
  nodeId: string;
  /** The platform's cluster name; null: a platform of one node. */
  cluster: Pick<NodeMembership, 'clusterName'>;
  /** The data folder. */
  dataDir: string;
  startedAt: Date;
  front: Pick<Front, 'addresses'>;
  adminListener: Pick<AdminListener, 'address'>;
  store: Pick<Store, 'schemaVersion'>;
  database: Pick<DatabaseServer, 'info' | 'state'>;
  monitor: Pick<MonitorSampler, 'current'>;
  backups: Pick<BackupService, 'dumpCheck'>;
  apps: Pick<AppService, 'list'>;
  /** How the apps' limits are enforced, and the defaults. */
  limits: SandboxInfo & { defaults: ResourceLimits };
  alarms: Pick<AlarmService, 'listed'>;
  appStore: Pick<AppStoreService, 'updates'>;
}

/**
 * The manager's own state and the reports made of it: `GET /health` (cheap, no store) and
 * `GET /status` (`appvisor status`), whose shapes docs/api.md gives.
 */
export class ManagerStatus {
  /** Set by the composition root as the manager starts and stops. */
  state: ManagerState = 'starting';
  readonly #sources: StatusSources;

  constructor(sources: StatusSources) {
    this.#sources = sources;
  }

  /** Degraded while the database server is away: the manager runs, the instances cannot. */
  health() {
    const { database } = this.#sources;
    const status: ManagerState | 'ok' | 'degraded' =
      this.state === 'running' ? (database.state === 'running' ? 'ok' : 'degraded') : this.state;
    return { status, version, database: database.state };
  }

  async status() {
    const s = this.#sources;
    return {
      manager: {
        state: this.state,
        version,
        pid: process.pid,
        nodeId: s.nodeId,
        cluster: s.cluster.clusterName,
        startedAt: s.startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - s.startedAt.getTime()) / 1000),
        dataDir: s.dataDir,
        node: process.version,
        listen: s.front.addresses(),
        admin: s.adminListener.address() ?? null,
        schemaVersion: s.store.schemaVersion,
      },
      database: s.database.info(),
      system: (await s.monitor.current()).machine,
      backup: s.backups.dumpCheck(),
      apps: await s.apps.list(),
      limits: s.limits,
      alarms: await s.alarms.listed(),
      updates: s.appStore.updates(),
    };
  }
}
