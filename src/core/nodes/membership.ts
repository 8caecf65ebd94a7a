import { CoalescedRun } from '../../lib/coalesced-run.js';
import type { Component } from '../../lib/lifecycle.js';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { SecretBox } from '../../lib/secret-box.js';
import type { AlarmRaiser } from '../alarms/index.js';
import { AppvisorError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { Query, Store } from '../store/index.js';
import { admit, type NodeState, type RegisteredNode } from './admission.js';
import { splitAddress } from './peer-routes.js';
import { choosePlacement, type Placement, type PlacementCandidate } from './placement.js';

/** Advisory lock key that serializes the admission of nodes to one store. */
const admissionLock = 0x61706e64; // "apnd"
/** The plain text of the platform's key check; only a node with the platform's key opens it. */
const keyCheckText = 'appvisor platform key';

/** A node as `GET /nodes` shows it. */
export interface NodeView {
  id: string;
  /** The address other nodes reach its front at (host:port, HTTP). */
  address: string;
  host: string;
  state: NodeState;
  /** Instances placement may give it at most. */
  capacity: number;
  /** Instances it owns now. */
  instances: number;
  version: string;
  /** How many times it started on this store. */
  generation: number;
  joinedAt: string;
  startedAt: string;
  heartbeatAt: string;
  leaseUntil: string;
  stoppedAt: string | null;
  /** Whether it is the node answering. */
  self: boolean;
  /** Drained for maintenance: placement gives it no instance. */
  draining: boolean;
}

/** The platform as one node sees it. */
export interface NodesReport {
  /** `cluster.name`; null: a platform of one node. */
  cluster: string | null;
  self: string;
  nodes: NodeView[];
}

/** Options of {@link NodeMembership}. */
export interface NodeMembershipOptions {
  store: Pick<Store, 'query' | 'transaction'>;
  events: Pick<EventLog, 'record'>;
  alarms: AlarmRaiser;
  logger: Logger;
  nodeId: string;
  secretKey: Buffer;
  clusterName: string | null;
  /** This machine's name (`os.hostname()`), told apart from a copy of the data folder elsewhere. */
  hostName: string;
  /** What the other nodes reach this one at (host:port); asked once the front is bound. */
  address: () => string;
  dataDir: string;
  capacity: number;
  leaseSeconds: number;
  version: string;
}

interface NodeRow {
  node_id: string;
  host: string;
  address: string;
  data_dir: string;
  capacity: number;
  version: string;
  generation: string;
  joined_at: Date;
  started_at: Date;
  heartbeat_at: Date;
  lease_until: Date;
  stopped_at: Date | null;
  state: NodeState;
  instances: string;
  draining: boolean;
}

/** The state of a row by its lease, on the server's clock. */
const stateColumn = `CASE WHEN n.stopped_at IS NOT NULL THEN 'stopped'
  WHEN n.lease_until > now() THEN 'up' ELSE 'down' END AS state`;

/**
 * This node's place on the platform: admitted at its start (see {@link admit}), its lease
 * renewed every third of `leaseSeconds`, and left (`stopped`) at its close. Each renewal also
 * looks at the others: a node whose lease ran out is recorded as down once, by whichever node
 * saw it first (`node.down` event, `node-down` alarm until it is back or removed). Each
 * renewal also clears the `node-down` alarms this node holds (those of its previous run
 * included) of nodes that are no longer down.
 *
 * The lease is held by `generation`: a renewal that finds another generation (a copy of this
 * node started elsewhere after this one's lease ran out) or no row (the node was removed
 * while it was down) does not renew, and raises `node-fenced`.
 */
export class NodeMembership implements Component {
  readonly name = 'node membership';
  readonly #options: NodeMembershipOptions;
  #generation = 0;
  #clusterName: string | null;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #fenced = false;
  #closed = false;
  /**
   * Since when (monotonic ms) this node's renewals are unbroken. It judges others only after a
   * whole lease of its own: after its start, and after an outage of the database in which
   * every lease ran out, the first node back would otherwise record all others as down.
   */
  #heldSince = 0;
  #lastRenewal = 0;
  readonly #renewalListeners: CoalescedRun[] = [];

  constructor(options: NodeMembershipOptions) {
    this.#options = options;
    this.#clusterName = options.clusterName;
  }

  /** The platform's name; null for a platform of one node. */
  get clusterName(): string | null {
    return this.#clusterName;
  }

  /** How many times this node has started on this store, this start included. */
  get generation(): number {
    return this.#generation;
  }

  async start(): Promise<void> {
    const o = this.#options;
    const box = new SecretBox(o.secretKey);
    const joined = await o.store.transaction(async (query) => {
      await query('SELECT pg_advisory_xact_lock($1)', [admissionLock]);
      const platform = await query<{ cluster_name: string | null; key_check: string }>(
        'SELECT cluster_name, key_check FROM platform',
      );
      const row = platform.rows[0];
      const rows = await this.#rows(query);
      const registered = rows.map((r): RegisteredNode => ({
        id: r.node_id,
        host: r.host,
        dataDir: r.data_dir,
        state: r.state,
      }));
      const admitted = admit(
        { id: o.nodeId, clusterName: o.clusterName, host: o.hostName, dataDir: o.dataDir },
        {
          platform: row
            ? { clusterName: row.cluster_name, keyOpens: opens(box, row.key_check) }
            : null,
          self: registered.find((n) => n.id === o.nodeId) ?? null,
          others: registered.filter((n) => n.id !== o.nodeId),
        },
      );
      await query(
        `INSERT INTO platform (one, cluster_name, key_check) VALUES (true, $1, $2)
         ON CONFLICT (one) DO UPDATE SET cluster_name = excluded.cluster_name`,
        [admitted.clusterName, box.seal(keyCheckText)],
      );
      const node = await query<{ generation: string; first: boolean }>(
        `INSERT INTO nodes (node_id, host, address, data_dir, capacity, version, pid, generation,
                            lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, now() + make_interval(secs => $8))
         ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, address = excluded.address,
           data_dir = excluded.data_dir, capacity = excluded.capacity, version = excluded.version,
           pid = excluded.pid, generation = nodes.generation + 1, started_at = now(),
           heartbeat_at = now(), lease_until = excluded.lease_until, stopped_at = NULL,
           down_seen = NULL
         RETURNING generation, (xmax = 0) AS first`,
        [
          o.nodeId,
          o.hostName,
          o.address(),
          o.dataDir,
          o.capacity,
          o.version,
          process.pid,
          o.leaseSeconds,
        ],
      );
      return { ...admitted, ...node.rows[0]! };
    });
    this.#clusterName = joined.clusterName;
    this.#generation = Number(joined.generation);
    this.#heldSince = this.#lastRenewal = performance.now();
    const where =
      joined.clusterName === null ? 'a platform of one node' : `cluster "${joined.clusterName}"`;
    o.events.record({
      kind: joined.first ? 'node.joined' : 'node.started',
      severity: 'info',
      subject: o.nodeId,
      text: `node ${o.nodeId} at ${o.address()} ${joined.first ? 'joined' : 'started in'} ${where} (start ${this.#generation})`,
    });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(
      () => {
        this.#tick = this.#renew()
          .catch((error: unknown) => {
            // The database is away: the lease runs out unless it comes back in time; the
            // database's own alarm says so.
            this.#options.logger.warn({ err: error }, 'the node lease could not be renewed');
          })
          .finally(() => {
            this.#tick = undefined;
            this.#schedule();
          });
      },
      (this.#options.leaseSeconds * 1000) / 3,
    );
    this.#timer.unref();
  }

  /**
   * Calls `listener` after each renewal of the lease (what reads the other nodes' state
   * reads it again then), without the lease waiting for it; a failure of it is logged.
   */
  onRenewal(listener: () => Promise<void>): void {
    this.#renewalListeners.push(
      new CoalescedRun(() =>
        listener().catch((error: unknown) => {
          this.#options.logger.warn({ err: error }, 'a task after the lease renewal failed');
        }),
      ),
    );
  }

  /**
   * Runs each of the renewal's listeners apart from the lease and from each other: a slow one
   * (an instance taken over bringing its folder from a backup) must never hold the next
   * renewal back, or this node would lose its lease while it works. A listener still running
   * from an earlier renewal runs once more after it ends, not twice at once.
   */
  #afterRenewal(): void {
    for (const listener of this.#renewalListeners) void listener.run();
  }

  /** Renews this node's lease, then records the nodes whose leases ran out. */
  async #renew(): Promise<void> {
    const o = this.#options;
    if (this.#fenced) return;
    const renewed = await o.store.query(
      `UPDATE nodes SET heartbeat_at = now(), lease_until = now() + make_interval(secs => $3)
       WHERE node_id = $1 AND generation = $2 AND stopped_at IS NULL`,
      [o.nodeId, this.#generation, o.leaseSeconds],
    );
    if (renewed.rowCount === 0) {
      this.#fence();
      return;
    }
    const now = performance.now();
    if (now - this.#lastRenewal > o.leaseSeconds * 1000) this.#heldSince = now;
    this.#lastRenewal = now;
    if (now - this.#heldSince >= o.leaseSeconds * 1000) {
      await this.#judgeOthers();
      await this.#clearOrphans();
    }
    this.#afterRenewal();
    const raised = o.alarms.active().filter((a) => a.code === 'node-down');
    if (raised.length === 0) return;
    const states = new Map((await this.#rows(o.store.query)).map((r) => [r.node_id, r.state]));
    for (const alarm of raised) {
      const state = states.get(alarm.subject);
      if (state !== 'down') {
        o.alarms.clear('node-down', nodeBack(alarm.subject, state), alarm.subject);
      }
    }
  }

  /**
   * Records each node whose lease ran out, once per start of it, by whichever node is first,
   * and in the same transaction gives its instances to the nodes that are up (placement, as
   * for a new instance): their owners adopt them at their next renewal. An instance no node
   * can take (none has its app, or room) stays with the lost node, said in an event.
   */
  async #judgeOthers(): Promise<void> {
    const o = this.#options;
    const judged = await o.store.transaction(async (query) => {
      await query('SELECT pg_advisory_xact_lock($1)', [admissionLock]);
      const lost = await query<{ node_id: string; host: string; lease_until: Date }>(
        `UPDATE nodes SET down_seen = generation
         WHERE node_id <> $1 AND stopped_at IS NULL AND lease_until <= now()
           AND down_seen IS DISTINCT FROM generation
         RETURNING node_id, host, lease_until`,
        [o.nodeId],
      );
      const outcomes = [];
      for (const node of lost.rows)
        outcomes.push({ node, ...(await this.#takeOver(query, node.node_id)) });
      return outcomes;
    });
    for (const { node, moved, stranded } of judged) {
      const text = `node ${node.node_id} on ${node.host} stopped renewing its lease; it ran out at ${node.lease_until.toISOString()}`;
      o.events.record({ kind: 'node.down', severity: 'error', subject: node.node_id, text });
      o.alarms.raise('node-down', 'error', text, node.node_id);
      if (moved.length > 0) {
        o.events.record({
          kind: 'node.takeover',
          severity: 'warning',
          subject: node.node_id,
          text: `the instances of node ${node.node_id} go to other nodes: ${moved.join(', ')}`,
        });
      }
      if (stranded.length > 0) {
        o.events.record({
          kind: 'node.stranded',
          severity: 'error',
          subject: node.node_id,
          text: `instances of node ${node.node_id} no node can take: ${stranded.join('; ')}`,
        });
      }
    }
  }

  /**
   * Clears the `node-down` alarms held by a node that is not up itself, about a node that is
   * no longer down: their holder would clear them at its next renewal, but it may never come
   * back, and the platform's alarm list would show a node down that is up. The clear goes to
   * the holder's history, as if it had cleared it.
   */
  async #clearOrphans(): Promise<void> {
    const o = this.#options;
    const cleared = await o.store.query<{ holder: string; subject: string }>(
      `WITH orphaned AS (
         DELETE FROM alarms a
          WHERE a.code = 'node-down' AND a.node_id <> $1
            AND NOT EXISTS (SELECT 1 FROM nodes h WHERE h.node_id = a.node_id
                              AND h.stopped_at IS NULL AND h.lease_until > now())
            AND NOT EXISTS (SELECT 1 FROM nodes s WHERE s.node_id = a.subject
                              AND s.stopped_at IS NULL AND s.lease_until <= now())
         RETURNING a.node_id, a.subject, a.severity)
       INSERT INTO alarm_history (node_id, at, action, code, subject, severity, text)
       SELECT node_id, now(), 'cleared', 'node-down', subject, severity,
              'node ' || subject || ' is no longer down (cleared by node ' || $1 || ')'
         FROM orphaned
       RETURNING node_id AS holder, subject`,
      [o.nodeId],
    );
    for (const { holder, subject } of cleared.rows) {
      o.events.record({
        kind: 'alarm.cleared.node-down',
        severity: 'info',
        subject,
        text: `node ${subject} is no longer down; node ${holder}, which saw it go, is not up to say so`,
      });
    }
  }

  /** Gives the instances of a lost node to other nodes, within the judging transaction. */
  async #takeOver(query: Query, lost: string): Promise<{ moved: string[]; stranded: string[] }> {
    const moved: string[] = [];
    const stranded: string[] = [];
    const rows = await query<{ id: string; app: string }>(
      `SELECT id, app FROM instances WHERE node_id = $1 AND provisioning = 'ready' ORDER BY id`,
      [lost],
    );
    for (const row of rows.rows) {
      let to: Placement;
      try {
        // Counted again for each: the ones moved before it in this transaction count.
        to = choosePlacement(await this.#candidates(query, row.app), row.app, this.#options.nodeId);
      } catch (error) {
        stranded.push(`${row.id} (${(error as Error).message})`);
        continue;
      }
      await query(
        'UPDATE instances SET node_id = $2, updated_at = now() WHERE id = $1 AND node_id = $3',
        [row.id, to.node, lost],
      );
      moved.push(`${row.id} to ${to.node}`);
    }
    return { moved, stranded };
  }

  #fence(): void {
    this.#fenced = true;
    const text = `node ${this.#options.nodeId} lost its lease to a newer start of the same node id, or was removed while it was down; restart this manager`;
    this.#options.logger.error(text);
    this.#options.events.record({
      kind: 'node.fenced',
      severity: 'critical',
      subject: this.#options.nodeId,
      text,
    });
    this.#options.alarms.raise('node-fenced', 'critical', text, this.#options.nodeId);
  }

  async #rows(query: Query): Promise<NodeRow[]> {
    const result = await query<NodeRow>(
      `SELECT n.*, ${stateColumn},
         (SELECT count(*) FROM instances i WHERE i.node_id = n.node_id) AS instances
       FROM nodes n ORDER BY n.node_id`,
    );
    return result.rows;
  }

  /** Every registered node, by id. */
  async report(): Promise<NodesReport> {
    const rows = await this.#rows(this.#options.store.query);
    return {
      cluster: this.#clusterName,
      self: this.#options.nodeId,
      nodes: rows.map((r) => ({
        id: r.node_id,
        address: r.address,
        host: r.host,
        state: r.state,
        capacity: r.capacity,
        instances: Number(r.instances),
        version: r.version,
        generation: Number(r.generation),
        joinedAt: r.joined_at.toISOString(),
        startedAt: r.started_at.toISOString(),
        heartbeatAt: r.heartbeat_at.toISOString(),
        leaseUntil: r.lease_until.toISOString(),
        stoppedAt: r.stopped_at?.toISOString() ?? null,
        self: r.node_id === this.#options.nodeId,
        draining: r.draining,
      })),
    };
  }

  /** The node a new instance of `app` goes to (see {@link choosePlacement}). */
  async placement(app: string, pinned?: string): Promise<Placement> {
    const candidates = await this.#candidates(this.#options.store.query, app);
    return choosePlacement(candidates, app, this.#options.nodeId, pinned);
  }

  /** Every node as placement weighs it for an instance of `app`. */
  async #candidates(query: Query, app: string): Promise<PlacementCandidate[]> {
    const rows = await query<{
      node_id: string;
      address: string;
      capacity: number;
      up: boolean;
      instances: string;
      has_app: boolean;
      draining: boolean;
    }>(
      `SELECT n.node_id, n.address, n.capacity, n.draining,
         (n.stopped_at IS NULL AND n.lease_until > now()) AS up,
         (SELECT count(*) FROM instances i WHERE i.node_id = n.node_id) AS instances,
         EXISTS (SELECT 1 FROM apps a WHERE a.node_id = n.node_id AND a.id = $1) AS has_app
       FROM nodes n`,
      [app],
    );
    return rows.rows.flatMap((r): PlacementCandidate[] => {
      const at = splitAddress(r.address);
      return at
        ? [
            {
              id: r.node_id,
              ...at,
              up: r.up,
              instances: Number(r.instances),
              capacity: r.capacity,
              hasApp: r.has_app,
              draining: r.draining,
            },
          ]
        : [];
    });
  }

  /** The node that owns an instance, whether it is up, and the instance's app. */
  async ownerOf(instance: string): Promise<(Placement & { up: boolean; app: string }) | undefined> {
    const found = await this.#options.store.query<{
      node_id: string;
      address: string;
      up: boolean;
      app: string;
    }>(
      `SELECT i.node_id, i.app, n.address, (n.stopped_at IS NULL AND n.lease_until > now()) AS up
       FROM instances i JOIN nodes n ON n.node_id = i.node_id WHERE i.id = $1`,
      [instance],
    );
    const row = found.rows[0];
    const at = row && splitAddress(row.address);
    if (!row || !at) return undefined;
    return {
      node: row.node_id,
      ...at,
      up: row.up,
      app: row.app,
      self: row.node_id === this.#options.nodeId,
    };
  }

  /**
   * Gives an instance from node `from` to node `to` (a move): false when it is not `from`'s
   * any more (moved or deleted meanwhile). The two nodes act on it at their next renewal, or
   * when asked to reconcile.
   */
  async assign(instance: string, from: string, to: string): Promise<boolean> {
    const moved = await this.#options.store.query(
      `UPDATE instances SET node_id = $3, updated_at = now()
       WHERE id = $1 AND node_id = $2 AND provisioning = 'ready'`,
      [instance, from, to],
    );
    if (moved.rowCount === 0) return false;
    this.#options.events.record({
      kind: 'instance.moved',
      severity: 'info',
      subject: instance,
      text: `instance ${instance} moves from node ${from} to node ${to}`,
    });
    return true;
  }

  /** Marks a node drained (it takes no new instance) or not; NODE_NOT_FOUND if unknown. */
  async setDraining(id: string, draining: boolean): Promise<void> {
    const set = await this.#options.store.query(
      'UPDATE nodes SET draining = $2 WHERE node_id = $1',
      [id, draining],
    );
    if (set.rowCount === 0)
      throw new AppvisorError('NODE_NOT_FOUND', `no node ${id} is registered`);
  }

  /** The ids of the instances a node owns. */
  async instancesOf(id: string): Promise<string[]> {
    const rows = await this.#options.store.query<{ id: string }>(
      `SELECT id FROM instances WHERE node_id = $1 AND provisioning = 'ready' ORDER BY id`,
      [id],
    );
    return rows.rows.map((row) => row.id);
  }

  /** The other nodes, with their addresses, whether they are up and how many instances they own. */
  async peers(): Promise<(Placement & { up: boolean; state: NodeState; instances: number })[]> {
    const rows = await this.#rows(this.#options.store.query);
    return rows.flatMap((r) => {
      const at = splitAddress(r.address);
      return r.node_id !== this.#options.nodeId && at
        ? [
            {
              node: r.node_id,
              ...at,
              self: false,
              up: r.state === 'up',
              state: r.state,
              instances: Number(r.instances),
            },
          ]
        : [];
    });
  }

  /**
   * Forgets a node that is down or stopped and owns no instance, with its rows that only it
   * reads (its apps, app store records, journals, active alarms); its events and alarm
   * history stay. `NODE_UP` for a node whose lease runs (this one included), `NODE_NOT_EMPTY`
   * while it owns instances.
   */
  async remove(id: string): Promise<void> {
    await this.#options.store.transaction(async (query) => {
      await query('SELECT pg_advisory_xact_lock($1)', [admissionLock]);
      const found = await query<{ state: NodeState; instances: string }>(
        `SELECT ${stateColumn},
           (SELECT count(*) FROM instances i WHERE i.node_id = n.node_id) AS instances
         FROM nodes n WHERE n.node_id = $1`,
        [id],
      );
      const node = found.rows[0];
      if (!node) throw new AppvisorError('NODE_NOT_FOUND', `no node ${id} is registered`);
      if (node.state === 'up' || id === this.#options.nodeId) {
        throw new AppvisorError(
          'NODE_UP',
          `node ${id} is up; stop its manager first (a node that was killed is down once its lease runs out)`,
        );
      }
      if (Number(node.instances) > 0) {
        throw new AppvisorError(
          'NODE_NOT_EMPTY',
          `node ${id} still owns ${node.instances} instance(s); start it again and delete or back them up first`,
        );
      }
      for (const table of [
        'apps',
        'store_installs',
        'store_index_seen',
        'operations',
        'store_updates',
        'alarms',
      ]) {
        await query(`DELETE FROM ${table} WHERE node_id = $1`, [id]);
      }
      await query('DELETE FROM nodes WHERE node_id = $1', [id]);
    });
    this.#options.events.record({
      kind: 'node.removed',
      severity: 'info',
      subject: id,
      text: `node ${id} was removed from the platform`,
    });
  }

  /** Stops renewing and marks this node stopped (a clean leave: not `down`). */
  readonly close = once(async () => {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#tick;
    await Promise.all(this.#renewalListeners.map((listener) => listener.stop()));
    if (this.#generation === 0 || this.#fenced) return;
    await this.#options.store
      .query(
        `UPDATE nodes SET stopped_at = now(), lease_until = now()
         WHERE node_id = $1 AND generation = $2`,
        [this.#options.nodeId, this.#generation],
      )
      .catch((error: unknown) => {
        // The lease runs out by itself; the others then see this node down, not stopped.
        this.#options.logger.warn({ err: error }, 'the node could not record its stop');
      });
  });

  destroy(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

function opens(box: SecretBox, sealed: string): boolean {
  try {
    return box.open(sealed) === keyCheckText;
  } catch {
    return false;
  }
}

function nodeBack(id: string, state: NodeState | undefined): string {
  return state === undefined ? `node ${id} was removed` : `node ${id} is ${state}`;
}
