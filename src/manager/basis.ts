import type { Config } from '../core/config/index.js';
import type { DataLayout } from '../core/datadir/index.js';
import type { Logger } from '../lib/logger.js';
import type { Pause } from '../lib/pause-points.js';

/** What every part of the manager is configured from, once the data folder is open. */
export interface Basis {
  config: Config;
  layout: DataLayout;
  /** This node's id (data/node-id). */
  nodeId: string;
  /** The key sealing the secrets the store keeps (data/secret.key). */
  secretKey: Buffer;
  /** Whether the manager runs as root (it then runs apps as their own users). */
  isRoot: boolean;
  logger: Logger;
  /** The test-only pauses of `testing.pauses` (none unless configured). */
  pause: Pause;
}
