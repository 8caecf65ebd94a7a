/**
 * Several managers on one PostgreSQL the test starts, as docs/cluster.md tells an operator to
 * join them: each node in its own data folder under the test's folder, on loopback ephemeral
 * ports, with a short lease so that a node's loss shows within seconds.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppSummary, InstanceView, NodesReport } from '../../src/api/index.js';
import {
  cliOk,
  http,
  installEcho,
  killAll,
  makeTemp,
  removeTemp,
  startDaemon,
  stopQuietly,
  waitForApp,
  waitForInstance,
  type Daemon,
} from './daemon.js';
import { ExternalServer } from './external-server.js';

/** The instances a node hosts itself, as its own API says (not the cluster's list). */
export async function hostedBy(daemon: Daemon): Promise<string[]> {
  const answer = await http(
    'GET',
    { socket: daemon.socket },
    '/manager/api/v1/instances?local=true',
  );
  return (answer.body as { instances: InstanceView[] }).instances.map((v) => v.id);
}

/**
 * Makes an instance of examples/echo (domain example.com) through node `via`, pinned to node
 * `node` (an id), and waits until it is ready.
 */
export async function echoOnNode(via: Daemon, id: string, node: string): Promise<void> {
  await cliOk(via, 'instance', 'create', 'echo', id, '--domain', 'example.com', '--node', node);
  await waitForInstance(via, id);
}

/** Echo as `app list` on node `daemon` shows it; undefined when it is not installed there. */
export async function echoApp(daemon: Daemon): Promise<AppSummary | undefined> {
  const apps = JSON.parse(await cliOk(daemon, 'app', 'list', '--json')) as AppSummary[];
  return apps.find((app) => app.id === 'echo');
}

/** A test's platform of nodes; see the file's comment. */
export class TestCluster {
  readonly root: string;
  readonly server: ExternalServer;
  /** The operator role's `database.url`. */
  readonly url: string;
  readonly #started = new Map<string, Daemon>();

  private constructor(root: string, server: ExternalServer, url: string) {
    this.root = root;
    this.server = server;
    this.url = url;
  }

  /**
   * Starts the server (with `maxConnections`, 200 unless said) and makes the operator's
   * role; no node runs yet.
   */
  static async create(maxConnections?: number): Promise<TestCluster> {
    const root = await makeTemp();
    const server = await ExternalServer.create(root, maxConnections);
    return new TestCluster(root, server, await server.makeOperatorRole());
  }

  /** The data folder of node `name`. */
  folder(name: string): string {
    return join(this.root, name);
  }

  /** The flags of a node of cluster `cluster` (null: a platform of one node). */
  args(cluster: string | null = 'lab', leaseSeconds = 2): string[] {
    return [
      '--set',
      `database.url=${this.url}`,
      '--set',
      'cluster.host=127.0.0.1',
      '--set',
      `cluster.leaseSeconds=${leaseSeconds}`,
      ...(cluster ? ['--set', `cluster.name=${cluster}`] : []),
    ];
  }

  /**
   * Gives node `name` the platform's secret.key (that of node `from`) before its first
   * start, as an operator does.
   */
  async prepare(name: string, from: Daemon): Promise<void> {
    await mkdir(this.folder(name), { recursive: true, mode: 0o700 });
    await copyFile(join(from.data, 'secret.key'), join(this.folder(name), 'secret.key'));
  }

  /** Starts node `name` of cluster `lab` (its folder prepared unless it is the first). */
  async start(name: string, extra: string[] = []): Promise<Daemon> {
    const daemon = await startDaemon({ data: this.folder(name), args: [...this.args(), ...extra] });
    this.#started.set(name, daemon);
    return daemon;
  }

  /** Starts the nodes in order: the first makes the platform, the others join it. */
  async startAll(names: readonly string[]): Promise<Daemon[]> {
    const daemons: Daemon[] = [];
    for (const name of names) {
      if (daemons[0]) await this.prepare(name, daemons[0]);
      daemons.push(await this.start(name));
    }
    return daemons;
  }

  /**
   * Installs examples/echo (autostart) on each node and waits until it runs there; each
   * node's id.
   */
  async withEcho(daemons: readonly Daemon[]): Promise<Map<Daemon, string>> {
    const ids = new Map<Daemon, string>();
    for (const daemon of daemons) {
      await installEcho(daemon.data);
      await waitForApp(daemon, 'echo');
      ids.set(daemon, (JSON.parse(await cliOk(daemon, 'node', '--json')) as NodesReport).self);
    }
    return ids;
  }

  /** Stops every node (and whatever still runs from the named folders), the server, the folder. */
  async destroy(folders: readonly string[] = []): Promise<void> {
    for (const daemon of this.#started.values()) await stopQuietly(daemon);
    for (const name of new Set([...this.#started.keys(), ...folders])) {
      await killAll(this.folder(name));
    }
    await this.server.stop('fast');
    await removeTemp(this.root);
  }
}
