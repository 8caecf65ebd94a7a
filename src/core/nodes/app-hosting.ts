/**
 * Where an app's process runs on a cluster (docs/cluster.md, "Where an app runs"): on each
 * node that hosts enabled instances of it, and wherever its autostart is on (the admin's
 * word, for an app without instances or one wanted everywhere). A node that gets its first
 * instance of an app starts the app; one whose last instance of it left stops it, unless its
 * autostart is on. Only these changes act: an app the admin stops or starts by hand on a node
 * stays so until the node's instances of it change.
 */
import { CoalescedRun } from '../../lib/coalesced-run.js';
import { once, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { EventLog } from '../events/index.js';

/** What the hosting needs of the apps subsystem. */
export interface HostedApps {
  /** The apps installed on this node: their autostart and their process's state. */
  list(): Promise<{ id: string; autostart: boolean; runnable: boolean; state: string }[]>;
  start(id: string): Promise<unknown>;
  stop(id: string): Promise<unknown>;
}

/** Options of {@link AppHosting}. */
export interface AppHostingOptions {
  apps: HostedApps;
  /** The apps of the enabled instances this node hosts now. */
  hosted: () => ReadonlySet<string>;
  events: Pick<EventLog, 'record'>;
  logger: Logger;
}

/** States of an app's process in which a node's first instance of it starts it. */
const idle = new Set(['stopped', 'fatal']);
/** States in which a node without instances of it (and without autostart) stops it. */
const busy = new Set(['starting', 'running', 'backoff']);

/** Starts and stops apps as this node's instances of them come and go; see the file. */
export class AppHosting implements Component {
  readonly name = 'app hosting';
  readonly #options: AppHostingOptions;
  /** The apps this node hosted instances of at the last look. */
  #hosting: ReadonlySet<string> = new Set();
  readonly #looks = new CoalescedRun(() =>
    this.#look().catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'cannot start or stop apps for instances');
    }),
  );
  #closed = false;

  constructor(options: AppHostingOptions) {
    this.#options = options;
  }

  /** Looks once: the apps hosting instances here and stopped are started. */
  async start(): Promise<void> {
    await this.check();
  }

  /**
   * Looks at this node's instances and apps, and acts on what changed since the last look.
   * Looks run one at a time; a call during one makes one more after it.
   */
  check(): Promise<void> {
    return this.#looks.run();
  }

  async #look(): Promise<void> {
    const { apps, hosted, events } = this.#options;
    const now = new Set(hosted());
    for (const app of await apps.list()) {
      if (this.#closed) return;
      const gained = now.has(app.id) && !this.#hosting.has(app.id);
      const lost = !now.has(app.id) && this.#hosting.has(app.id);
      if (gained && app.runnable && idle.has(app.state)) {
        events.record({
          kind: 'app.hosting',
          severity: 'info',
          subject: app.id,
          text: `${app.id} started: this node hosts instances of it`,
        });
        await apps.start(app.id);
      } else if (lost && !app.autostart && busy.has(app.state)) {
        events.record({
          kind: 'app.hosting',
          severity: 'info',
          subject: app.id,
          text: `${app.id} stopped: this node hosts no instance of it any more, and its autostart is off`,
        });
        await apps.stop(app.id);
      }
    }
    this.#hosting = now;
  }

  readonly close = once(async () => {
    this.#closed = true;
    await this.#looks.stop();
  });

  destroy(): void {
    this.#closed = true;
  }
}
