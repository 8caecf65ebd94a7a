import { Gauge, Registry } from 'prom-client';
import { platformTotals, type NodeSample } from './platform.js';
import type { MonitorSnapshot } from './sampler.js';

/** The supervisor states; `appvisor_app_state` has one series per state, 1 for the current one. */
export const appStates = [
  'stopped',
  'starting',
  'running',
  'stopping',
  'backoff',
  'fatal',
] as const;

/**
 * Renders samples in the Prometheus text exposition format. It keeps its own registries (never
 * prom-client's global one) and refills the gauges from the latest sample at each scrape, so
 * an uninstalled app or a deleted instance leaves no stale series behind.
 *
 * On a cluster (`node` given) every series carries a `node` label, and {@link renderPlatform}
 * renders every node's samples together with the platform's totals (`appvisor_cluster_*`).
 */
export class PrometheusExporter {
  readonly #own: Gauges;
  readonly #platform: Gauges | undefined;
  readonly #snapshot: () => Promise<MonitorSnapshot>;
  readonly #node: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(snapshot: () => Promise<MonitorSnapshot>, options: { node?: string } = {}) {
    this.#snapshot = snapshot;
    this.#node = options.node;
    const labelled = options.node !== undefined;
    this.#own = new Gauges(labelled, false);
    this.#platform = labelled ? new Gauges(true, true) : undefined;
  }

  /** The content type of {@link render}'s text. */
  get contentType(): string {
    return this.#own.registry.contentType;
  }

  /** The latest sample in the text exposition format. */
  render(): Promise<string> {
    return this.#serial(async () => {
      const snapshot = await this.#snapshot();
      this.#own.reset();
      this.#own.fill(snapshot, this.#node);
      return this.#own.registry.metrics();
    });
  }

  /**
   * Every node's latest sample, each labelled with its node, and the platform's totals: the
   * nodes by state, and the sums over the nodes that answered. A node that did not answer has
   * `appvisor_cluster_node_answered 0` and no other series. Only on a cluster.
   */
  renderPlatform(samples: readonly NodeSample[]): Promise<string> {
    const gauges = this.#platform;
    if (!gauges) return this.render();
    return this.#serial(async () => {
      gauges.reset();
      for (const sample of samples) {
        if (sample.snapshot) gauges.fill(sample.snapshot, sample.node);
      }
      gauges.totals(samples);
      return gauges.registry.metrics();
    });
  }

  /** Scrapes are serialized: one must not reset the gauges while another reads them. */
  #serial(render: () => Promise<string>): Promise<string> {
    const run = this.#queue.then(render);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** A registry and its gauges, with or without a `node` label, with or without the totals. */
class Gauges {
  readonly registry = new Registry();
  readonly #gauges: Record<string, Gauge> = {};
  readonly #labelled: boolean;

  constructor(labelled: boolean, totals: boolean) {
    this.#labelled = labelled;
    const gauge = (name: string, help: string, labelNames: string[] = []) => {
      this.#gauges[name] = new Gauge({
        name,
        help,
        labelNames: labelled ? ['node', ...labelNames] : labelNames,
        registers: [this.registry],
      });
    };
    gauge('appvisor_machine_cpu_percent', 'Busy share of all CPU cores, 0 to 100.');
    gauge('appvisor_machine_cpu_cores', 'CPU cores of the machine.');
    gauge('appvisor_machine_memory_used_bytes', 'Memory in use (total minus available).');
    gauge('appvisor_machine_memory_total_bytes', 'Memory of the machine.');
    gauge('appvisor_machine_load1', 'Load average over 1 minute.');
    gauge('appvisor_machine_load5', 'Load average over 5 minutes.');
    gauge('appvisor_machine_load15', 'Load average over 15 minutes.');
    gauge('appvisor_disk_used_bytes', 'Used bytes of the file system holding the data folder.');
    gauge('appvisor_disk_free_bytes', 'Free bytes of that file system for the manager.');
    gauge('appvisor_disk_total_bytes', 'Size of that file system.');
    gauge('appvisor_app_cpu_percent', "CPU of the app's process tree, percent of one core.", [
      'app',
    ]);
    gauge('appvisor_app_rss_bytes', "Resident memory of the app's process tree.", ['app']);
    gauge('appvisor_app_processes', "Processes in the app's process tree.", ['app']);
    gauge('appvisor_app_restarts', 'Restarts after a crash since the manager started.', ['app']);
    gauge('appvisor_app_state', '1 for the state the app is in, 0 for the others.', [
      'app',
      'state',
    ]);
    gauge('appvisor_instance_ready', '1 when the instance is ready in its service.', [
      'instance',
      'app',
    ]);
    gauge('appvisor_instance_database_bytes', "Size of the instance's database on disk.", [
      'instance',
      'app',
    ]);
    gauge('appvisor_instance_files_bytes', "Disk space of the instance's data folder.", [
      'instance',
      'app',
    ]);
    gauge(
      'appvisor_instance_usage_timestamp_seconds',
      "When the instance's database and folder were measured.",
      ['instance', 'app'],
    );
    gauge('appvisor_postgres_up', '1 when the database server is running.');
    gauge('appvisor_postgres_cpu_percent', 'CPU of the postmaster and its backends.');
    gauge('appvisor_postgres_rss_bytes', 'Resident memory of the postmaster and its backends.');
    gauge('appvisor_postgres_connections', 'Client connections (pg_stat_activity).');
    gauge('appvisor_monitor_sample_timestamp_seconds', 'When the values were sampled.');
    if (!totals) return;
    // The platform's totals: no node label (they are over every node).
    const total = (name: string, help: string, labelNames: string[] = []) => {
      this.#gauges[name] = new Gauge({ name, help, labelNames, registers: [this.registry] });
    };
    total('appvisor_cluster_nodes', 'Nodes of the platform in each state.', ['state']);
    total('appvisor_cluster_node_answered', '1 when the node gave its values for this scrape.', [
      'node',
    ]);
    total('appvisor_cluster_cpu_cores', 'CPU cores of the nodes that answered.');
    total('appvisor_cluster_memory_used_bytes', 'Memory in use, summed over the nodes.');
    total('appvisor_cluster_memory_total_bytes', 'Memory of the nodes, summed.');
    total('appvisor_cluster_disk_used_bytes', "Used bytes of the nodes' data folder file systems.");
    total('appvisor_cluster_disk_free_bytes', 'Free bytes of those file systems, summed.');
    total('appvisor_cluster_instances', 'Instances hosted by the nodes that answered.');
    total('appvisor_cluster_instances_ready', 'Of those, the instances that are ready.');
    total('appvisor_cluster_app_cpu_percent', "An app's CPU summed over the nodes (of one core).", [
      'app',
    ]);
    total('appvisor_cluster_app_rss_bytes', "An app's resident memory summed over the nodes.", [
      'app',
    ]);
    total('appvisor_cluster_app_processes', "An app's processes summed over the nodes.", ['app']);
  }

  reset(): void {
    for (const gauge of Object.values(this.#gauges)) gauge.reset();
  }

  #set(name: string, value: number | null, labels: Record<string, string> = {}): void {
    // A value that could not be measured is left out rather than reported as 0.
    if (value === null || !Number.isFinite(value)) return;
    this.#gauges[name]!.set(labels, value);
  }

  /** One node's sample (`node`: its label on a cluster). */
  fill(s: MonitorSnapshot, node: string | undefined): void {
    const at = (labels: Record<string, string> = {}) =>
      this.#labelled && node !== undefined ? { node, ...labels } : labels;
    const { machine, postgres } = s;
    this.#set('appvisor_machine_cpu_percent', machine.cpu.percent, at());
    this.#set('appvisor_machine_cpu_cores', machine.cpu.cores, at());
    this.#set('appvisor_machine_memory_used_bytes', machine.memory.usedBytes, at());
    this.#set('appvisor_machine_memory_total_bytes', machine.memory.totalBytes, at());
    this.#set('appvisor_machine_load1', machine.load[0], at());
    this.#set('appvisor_machine_load5', machine.load[1], at());
    this.#set('appvisor_machine_load15', machine.load[2], at());
    this.#set('appvisor_disk_used_bytes', machine.disk.usedBytes, at());
    this.#set('appvisor_disk_free_bytes', machine.disk.freeBytes, at());
    this.#set('appvisor_disk_total_bytes', machine.disk.totalBytes, at());
    for (const app of s.apps) {
      const labels = at({ app: app.id });
      this.#set('appvisor_app_cpu_percent', app.cpuPercent, labels);
      this.#set('appvisor_app_rss_bytes', app.rssBytes, labels);
      this.#set('appvisor_app_processes', app.processes, labels);
      this.#set('appvisor_app_restarts', app.restarts, labels);
      for (const state of appStates) {
        this.#set('appvisor_app_state', app.state === state ? 1 : 0, at({ app: app.id, state }));
      }
    }
    for (const instance of s.instances) {
      const labels = at({ instance: instance.id, app: instance.app });
      this.#set('appvisor_instance_ready', instance.ready ? 1 : 0, labels);
      const usage = instance.usage;
      if (!usage?.measuredAt) continue;
      this.#set('appvisor_instance_database_bytes', usage.databaseBytes, labels);
      this.#set('appvisor_instance_files_bytes', usage.filesBytes, labels);
      this.#set(
        'appvisor_instance_usage_timestamp_seconds',
        Date.parse(usage.measuredAt) / 1000,
        labels,
      );
    }
    this.#set('appvisor_postgres_up', postgres.state === 'running' ? 1 : 0, at());
    this.#set('appvisor_postgres_cpu_percent', postgres.cpuPercent, at());
    this.#set('appvisor_postgres_rss_bytes', postgres.rssBytes, at());
    this.#set('appvisor_postgres_connections', postgres.connections, at());
    this.#set('appvisor_monitor_sample_timestamp_seconds', Date.parse(s.at) / 1000, at());
  }

  /** The platform's totals over the nodes' samples (see {@link PrometheusExporter.renderPlatform}). */
  totals(samples: readonly NodeSample[]): void {
    for (const { node, snapshot } of samples) {
      this.#set('appvisor_cluster_node_answered', snapshot ? 1 : 0, { node });
    }
    const totals = platformTotals(samples);
    for (const state of ['up', 'down', 'stopped'] as const) {
      this.#set('appvisor_cluster_nodes', totals.nodes[state], { state });
    }
    this.#set('appvisor_cluster_cpu_cores', totals.cpuCores);
    this.#set('appvisor_cluster_memory_used_bytes', totals.memoryUsedBytes);
    this.#set('appvisor_cluster_memory_total_bytes', totals.memoryTotalBytes);
    this.#set('appvisor_cluster_disk_used_bytes', totals.diskUsedBytes);
    this.#set('appvisor_cluster_disk_free_bytes', totals.diskFreeBytes);
    this.#set('appvisor_cluster_instances', totals.instances);
    this.#set('appvisor_cluster_instances_ready', totals.instancesReady);
    for (const [app, sum] of Object.entries(totals.apps)) {
      this.#set('appvisor_cluster_app_cpu_percent', sum.cpuPercent, { app });
      this.#set('appvisor_cluster_app_rss_bytes', sum.rssBytes, { app });
      this.#set('appvisor_cluster_app_processes', sum.processes, { app });
    }
  }
}
