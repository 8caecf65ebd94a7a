/**
 * What the parts of the instances subsystem share: the loaded instances, the channels to the
 * services that host them, the route table, the queue that orders operations per instance,
 * and the journal.
 */
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { noPause } from '../../lib/pause-points.js';
import type { ServiceChannel } from '../apps/index.js';
import { diskFullCause } from '../disk/index.js';
import { AppvisorError } from '../errors/index.js';
import { Journal } from '../store/index.js';
import { systemClock, type Clock } from '../supervisor/index.js';
import { instanceFailedAlarm } from './instance-alarms.js';
import { InstanceLifecycle } from './lifecycle.js';
import type {
  InstanceServiceOptions,
  InstanceUsage,
  InstanceView,
  Row,
  VacuumProgress,
} from './model.js';
import { RouteTable } from './routes.js';
import { dataDirOf, describeRow } from './rows.js';
import { unmeasured } from './usage.js';
import { checkInstanceId, traceFlagNames } from './validation.js';

/** A loaded instance: its row as stored, its runtime lifecycle. */
export interface Live {
  row: Row;
  readonly lifecycle: InstanceLifecycle;
}

/** The instances of this manager and what reaches them. */
export class InstanceRegistry {
  readonly options: InstanceServiceOptions;
  readonly live = new Map<string, Live>();
  /** The channel to each app's service, while it runs. */
  readonly channels = new Map<string, ServiceChannel>();
  readonly routes = new RouteTable();
  /** Orders operations per instance id: two never interleave. */
  readonly queue = new KeyedQueue();
  readonly journal: Journal;
  /** What each instance takes on disk, as last measured (usage.ts). */
  readonly usage = new Map<string, InstanceUsage>();
  /** The vacuum of each instance waiting or under way (vacuum.ts). */
  readonly vacuums = new Map<string, VacuumProgress>();
  /** Told the app's id whenever one of its instances changes state. */
  readonly stateListeners = new Set<(app: string) => void>();
  readonly #clock: Clock;

  constructor(options: InstanceServiceOptions) {
    this.options = options;
    this.journal = new Journal(options.store, options.nodeId);
    this.#clock = options.clock ?? systemClock;
  }

  /** Loads an instance whose row is `ready`: listed and routed, stopped until hosted. */
  add(row: Row): Live {
    const { events, alarms, startTimeoutMs } = this.options;
    const live: Live = {
      row,
      lifecycle: new InstanceLifecycle({
        id: row.id,
        enabled: row.enabled,
        clock: this.#clock,
        startTimeoutMs,
        effects: {
          hosted: () => this.channels.has(live.row.app),
          sendStart: () => {
            const instance = describeRow(this.options, live.row);
            this.channels.get(live.row.app)?.send({ type: 'instance.start', instance });
          },
          sendStop: () => {
            this.channels.get(live.row.app)?.send({ type: 'instance.stop', id: live.row.id });
          },
          recordFailure: (event, error) => {
            const text = event === 'failed' ? `instance ${live.row.id} failed: ${error}` : error;
            events.record({
              kind: 'instance.failed',
              severity: 'error',
              subject: live.row.id,
              text,
            });
            alarms.raise(instanceFailedAlarm, 'error', text, live.row.id);
          },
          changed: () => {
            // Ready again, or disabled by the admin: the failure is over.
            const { state } = live.lifecycle;
            if (state === 'ready' || state === 'disabled')
              alarms.clear(instanceFailedAlarm, `instance ${live.row.id} is ${state}`, live.row.id);
            for (const listener of this.stateListeners) listener(live.row.app);
          },
        },
      }),
    };
    this.live.set(row.id, live);
    this.routes.set(row.path, live);
    return live;
  }

  /** The instance `id`; INSTANCE_NOT_FOUND when there is none. */
  get(id: string): Live {
    checkInstanceId(id);
    const live = this.live.get(id);
    if (!live) throw new AppvisorError('INSTANCE_NOT_FOUND', `no instance "${id}"`);
    return live;
  }

  ofApp(app: string): Live[] {
    return [...this.live.values()].filter((live) => live.row.app === app);
  }

  dataDir(row: Pick<Row, 'app' | 'id'>): string {
    return dataDirOf(this.options, row);
  }

  view(live: Live, reveal = false): InstanceView {
    const { row, lifecycle } = live;
    return {
      id: row.id,
      app: row.app,
      domain: row.domain,
      path: row.path,
      enabled: row.enabled,
      excludeFromBackup: row.exclude_from_backup,
      traceFlags: [...row.trace_flags],
      traceFlagsAvailable: [
        ...new Set([...traceFlagNames, ...this.options.apps.traceFlagsOf(row.app)]),
      ],
      state: lifecycle.state,
      error: lifecycle.error,
      since: lifecycle.since.toISOString(),
      createdAt: row.created_at.toISOString(),
      database: row.db_name,
      databaseUser: row.db_name,
      dataDir: this.dataDir(row),
      usage: { ...(this.usage.get(row.id) ?? unmeasured) },
      vacuum: this.#vacuumOf(row.id),
      ...(reveal ? { password: this.options.secrets.open(row.password_sealed) } : {}),
    };
  }

  #vacuumOf(id: string): VacuumProgress | null {
    const progress = this.vacuums.get(id);
    return progress ? { ...progress } : null;
  }

  /** Waits at a test-only pause point (config `testing.pauses`). */
  pause(step: string): Promise<void> {
    return (this.options.pause ?? noPause)(step);
  }

  /** Runs `work`; a failure that came from a full disk is DISK_FULL, others are unchanged. */
  async explained<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw await diskFullCause(error, what, this.options.diskPath);
    }
  }

  /** Cancels every instance's timers. */
  dispose(): void {
    for (const live of this.live.values()) live.lifecycle.dispose();
  }
}
