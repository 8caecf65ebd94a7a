import { Gauge, Registry } from 'prom-client';
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
 * Renders samples in the Prometheus text exposition format. It keeps its own registry (never
 * prom-client's global one) and refills the gauges from the latest sample at each scrape, so
 * an uninstalled app or a deleted instance leaves no stale series behind.
 */
export class PrometheusExporter {
  readonly #registry = new Registry();
  readonly #gauges: Record<string, Gauge> = {};
  readonly #snapshot: () => Promise<MonitorSnapshot>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(snapshot: () => Promise<MonitorSnapshot>) {
    this.#snapshot = snapshot;
    const gauge = (name: string, help: string, labelNames: string[] = []) => {
      this.#gauges[name] = new Gauge({ name, help, labelNames, registers: [this.#registry] });
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
  }

  /** The content type of {@link render}'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  #set(name: string, value: number | null, labels?: Record<string, string>): void {
    // A value that could not be measured is left out rather than reported as 0.
    if (value === null || !Number.isFinite(value)) return;
    const gauge = this.#gauges[name]!;
    if (labels) gauge.set(labels, value);
    else gauge.set(value);
  }

  /** The latest sample in the text exposition format. */
  render(): Promise<string> {
    // Scrapes are serialized: one must not reset the gauges while another reads them.
    const run = this.#queue.then(() => this.#render());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #render(): Promise<string> {
    const s = await this.#snapshot();
    for (const gauge of Object.values(this.#gauges)) gauge.reset();
    const { machine, postgres } = s;
    this.#set('appvisor_machine_cpu_percent', machine.cpu.percent);
    this.#set('appvisor_machine_cpu_cores', machine.cpu.cores);
    this.#set('appvisor_machine_memory_used_bytes', machine.memory.usedBytes);
    this.#set('appvisor_machine_memory_total_bytes', machine.memory.totalBytes);
    this.#set('appvisor_machine_load1', machine.load[0]);
    this.#set('appvisor_machine_load5', machine.load[1]);
    this.#set('appvisor_machine_load15', machine.load[2]);
    this.#set('appvisor_disk_used_bytes', machine.disk.usedBytes);
    this.#set('appvisor_disk_free_bytes', machine.disk.freeBytes);
    this.#set('appvisor_disk_total_bytes', machine.disk.totalBytes);
    for (const app of s.apps) {
      const labels = { app: app.id };
      this.#set('appvisor_app_cpu_percent', app.cpuPercent, labels);
      this.#set('appvisor_app_rss_bytes', app.rssBytes, labels);
      this.#set('appvisor_app_processes', app.processes, labels);
      this.#set('appvisor_app_restarts', app.restarts, labels);
      for (const state of appStates) {
        this.#set('appvisor_app_state', app.state === state ? 1 : 0, { app: app.id, state });
      }
    }
    for (const instance of s.instances) {
      const labels = { instance: instance.id, app: instance.app };
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
    this.#set('appvisor_postgres_up', postgres.state === 'running' ? 1 : 0);
    this.#set('appvisor_postgres_cpu_percent', postgres.cpuPercent);
    this.#set('appvisor_postgres_rss_bytes', postgres.rssBytes);
    this.#set('appvisor_postgres_connections', postgres.connections);
    this.#set('appvisor_monitor_sample_timestamp_seconds', Date.parse(s.at) / 1000);
    return this.#registry.metrics();
  }
}
