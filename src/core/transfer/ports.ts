/**
 * What a configuration export and import use of the other subsystems: narrow views, so the
 * composition root passes the real services and the unit tests pass fakes.
 */
import type { AppService } from '../apps/index.js';
import type { AppStoreService, StoreSources } from '../appstore/index.js';
import type { BackupService } from '../backup/index.js';
import type { InstanceService, InstanceView } from '../instances/index.js';
import type { SettingsService } from '../settings/index.js';
import type { CertificateStore } from '../tls/index.js';

/** A value, or a promise of it: the local service answers at once, a cluster's facade later. */
type Answer<T> = T | Promise<T>;

/** What a new instance is made with. */
export interface NewInstanceOptions {
  domain?: string;
  path?: string;
  password?: string;
}

/**
 * Where the node the file names for a new instance stands, as the plan says it: `node` when
 * the instance goes there, `refused` (why not) when placement chooses instead.
 */
export interface PinOutcome {
  node?: string;
  refused?: string;
}

/**
 * The platform's instances as a transfer sees them. A platform of one node passes its
 * {@link InstanceService}; a cluster passes a facade that lists every node's instances (each
 * view with its `node`) and has each one's owner act on it, so this subsystem need not know
 * about nodes.
 */
export interface TransferInstances {
  /** Every instance of the platform; a facade that cannot reach all of them throws. */
  list(): Answer<InstanceView[]>;
  show(id: string, options?: { reveal?: boolean }): Answer<InstanceView>;
  /**
   * Makes an instance. `where.node` is the file's node for it: a wish the cluster honours when
   * it can (a platform of one node has no use for it and ignores it).
   */
  create(
    app: string,
    id: string,
    options: NewInstanceOptions,
    where?: { node?: string },
  ): Promise<InstanceView>;
  set(id: string, change: Parameters<InstanceService['set']>[1]): Promise<InstanceView>;
  trace(id: string, changes: readonly string[]): Promise<InstanceView>;
  delete(id: string): Promise<void>;
  /**
   * On a cluster: whether a new instance of `app` would go to `node`, for the plan's line.
   * Absent on a platform of one node.
   */
  pin?(app: string, node: string): Promise<PinOutcome>;
}

/** The services a transfer reads and changes. */
export interface TransferPorts {
  settings: Pick<SettingsService, 'get' | 'update'>;
  certificates: Pick<CertificateStore, 'status' | 'pair' | 'set'>;
  sources: Pick<StoreSources, 'list' | 'put' | 'remove'>;
  appStore: Pick<AppStoreService, 'install' | 'installed'>;
  apps: Pick<AppService, 'list' | 'settingsOf' | 'configure' | 'uninstall' | 'hostsInstances'>;
  instances: TransferInstances;
  backups: Pick<
    BackupService,
    'schedule' | 'setSchedule' | 'listTargets' | 'putTarget' | 'removeTarget' | 'targetCredentials'
  >;
}
