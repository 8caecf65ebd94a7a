import type { Logger } from '../../lib/logger.js';
import { PathRouter } from '../../lib/path-router.js';
import type { Store } from '../store/index.js';

/** An instance another node owns, as this node's front forwards to it. */
export interface PeerRoute {
  /** The instance id. */
  id: string;
  /** The path it is registered under. */
  path: string;
  /** The node that owns it. */
  node: string;
  /** Where that node's front listens for its peers (HTTP). */
  host: string;
  port: number;
  /** Whether the owner is up; an instance of a node that is down or stopped cannot answer. */
  up: boolean;
}

/** Options of {@link PeerRoutes}. */
export interface PeerRoutesOptions {
  store: Pick<Store, 'query'>;
  nodeId: string;
  logger: Logger;
  /** Least time between two reloads asked for by paths nothing serves (default 1 s). */
  missIntervalMs?: number;
}

/** `host:port` or `[v6]:port` as the nodes table keeps an address; undefined when it is not. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}

/**
 * The web paths of the instances other nodes own, for this node's front: reloaded from the
 * store with every lease renewal, and at once (at most once per `missIntervalMs`) when a
 * request finds nothing, so that an instance made on another node is reachable here on its
 * first request. The store is the only source: nothing a node or an app says over the
 * network changes where this front forwards to.
 */
export class PeerRoutes {
  readonly #options: PeerRoutesOptions;
  #router = new PathRouter<PeerRoute>();
  #loading: Promise<void> | undefined;
  #missRead: Promise<void> | undefined;
  #lastMissRead = -Infinity;

  constructor(options: PeerRoutesOptions) {
    this.#options = options;
  }

  /** The instance of another node serving a path (longest whole-segment match). */
  match(path: string): PeerRoute | undefined {
    return this.#router.match(path)?.value;
  }

  /**
   * Looks a path up again in a table read after this call: a path nothing serves may be an
   * instance another node made a moment ago. Reads for such paths are shared and spaced
   * `missIntervalMs` apart (one waits for the next when the last is too recent), so that a
   * flood of requests for unknown paths costs the store at most one read per interval.
   */
  async lookup(path: string): Promise<PeerRoute | undefined> {
    this.#missRead ??= this.#readAfterMiss().finally(() => {
      this.#missRead = undefined;
    });
    await this.#missRead.catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'the routes of other nodes could not be read');
    });
    return this.match(path);
  }

  async #readAfterMiss(): Promise<void> {
    const wait = this.#lastMissRead + (this.#options.missIntervalMs ?? 1000) - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.#lastMissRead = performance.now();
    // Its own read, not a periodic one begun before the request came.
    await this.#load();
  }

  /** Reads the instances of the other nodes again; concurrent calls share one read. */
  reload(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const rows = await this.#options.store.query<{
      id: string;
      path: string;
      node_id: string;
      address: string;
      up: boolean;
    }>(
      `SELECT i.id, i.path, i.node_id, n.address,
              (n.stopped_at IS NULL AND n.lease_until > now()) AS up
       FROM instances i JOIN nodes n ON n.node_id = i.node_id
       WHERE i.node_id <> $1 AND i.provisioning = 'ready'`,
      [this.#options.nodeId],
    );
    const router = new PathRouter<PeerRoute>();
    for (const row of rows.rows) {
      const at = splitAddress(row.address);
      if (!at) continue;
      router.set(row.path, { id: row.id, path: row.path, node: row.node_id, ...at, up: row.up });
    }
    this.#router = router;
  }
}
