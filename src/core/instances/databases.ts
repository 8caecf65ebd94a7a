/**
 * What instances do on the database server, as one narrow interface: the provisioning of the
 * database subsystem bound to the server. The instances subsystem takes it in its options, so
 * that its logic runs in unit tests over a fake.
 */
import {
  createStagingDatabase,
  databaseExists,
  dropDatabase,
  dropInstanceDatabase,
  databaseSizes,
  dropLeftoverDatabases,
  ensureInstanceDatabase,
  resetInstanceRoles,
  swapDatabases,
  type DatabaseServer,
  type InstanceDatabase,
} from '../database/index.js';

/** The database server as the instances subsystem uses it. */
export interface InstanceDatabases {
  /** Where instance roles connect (TCP). */
  endpoint(): { host: string; port: number };
  /** Makes (or repairs) an instance's database, its role and the manager's role of it. */
  ensure(db: InstanceDatabase): Promise<void>;
  /** Drops an instance's database and its roles. */
  drop(name: string): Promise<void>;
  /** Sets the instances' roles back as the manager made them. */
  resetRoles(dbs: readonly InstanceDatabase[]): Promise<void>;
  /** A new empty database owned by `role`, named as a restore's staging database. */
  createStaging(name: string, role: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  /** Drops a database (a staging, scratch or retired one) if it exists. */
  dropDatabase(name: string): Promise<void>;
  /** Puts `staging` in place of `live` (then named `retired`), in one transaction. */
  swap(live: string, staging: string, retired: string): Promise<void>;
  /** Drops the staging and retired databases of restores tagged `tag`, except `keep`. */
  dropLeftovers(tag: string, keep: readonly string[]): Promise<string[]>;
  /** Whether the server runs now (when it does not, nothing is asked of it to measure). */
  running(): boolean;
  /** The size on disk of each database named; null for one that does not exist. */
  sizes(names: readonly string[]): Promise<Map<string, number | null>>;
}

/** The instances' view of `server`. */
export function instanceDatabases(server: DatabaseServer): InstanceDatabases {
  return {
    endpoint: () => {
      const { host, port } = server.info();
      return { host, port };
    },
    ensure: (db) => ensureInstanceDatabase(server, db),
    drop: (name) => dropInstanceDatabase(server, name),
    resetRoles: (dbs) => resetInstanceRoles(server, dbs),
    createStaging: (name, role) => createStagingDatabase(server, name, role),
    exists: (name) => databaseExists(server, name),
    dropDatabase: (name) => dropDatabase(server, name),
    swap: (live, staging, retired) => swapDatabases(server, live, staging, retired),
    dropLeftovers: (tag, keep) => dropLeftoverDatabases(server, tag, keep),
    running: () => server.state === 'running',
    sizes: (names) => databaseSizes(server, names),
  };
}
