import type { ClientConfig } from 'pg';
import type { Component } from '../../lib/lifecycle.js';

/** Observed state of the database server. */
export type DatabaseState = 'stopped' | 'starting' | 'running' | 'restarting' | 'stopping';

/** What status pages show about the database server; never holds a secret. */
export interface DatabaseInfo {
  mode: 'embedded' | 'external';
  state: DatabaseState;
  /** Server version, e.g. `18.4`, once connected. */
  version: string | null;
  /** TCP endpoint instance roles connect to. */
  host: string;
  port: number;
  /** Folder of the embedded cluster, null for an external server. */
  cluster: string | null;
  /** pid of the embedded server, null for an external one. */
  pid: number | null;
  /** Times the embedded server was restarted after it died. */
  restarts: number;
  since: string;
}

/** A change of the server's state, with the reason when it is a failure. */
export interface DatabaseStateChange {
  state: DatabaseState;
  previous: DatabaseState;
  reason?: string;
}

/** The PostgreSQL server the manager uses: embedded (started by it) or external. */
export interface DatabaseServer extends Component {
  readonly mode: 'embedded' | 'external';
  readonly state: DatabaseState;
  /** Connection settings of the admin role for one database. */
  adminConfig(database: string): ClientConfig;
  info(): DatabaseInfo;
  /** Calls `listener` on every state change; returns a function that removes it. */
  onStateChange(listener: (change: DatabaseStateChange) => void): () => void;
}
