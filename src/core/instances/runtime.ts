/**
 * Hosting instances in their app's service: what the manager does when a service becomes
 * ready or goes, what it does with a service's `instance.*` answers, and how a change of
 * settings reaches the running service. Every change of an instance's state goes through
 * its lifecycle (lifecycle.ts).
 */
import type { ForwardedServiceMessage, ServiceChannel } from '../apps/index.js';
import { escapeControls } from '../../lib/text-escape.js';
import type { InstanceRegistry, Live } from './registry.js';
import { describeRow, prepareFolder, resetRoles } from './rows.js';
import { ServiceMessages, maxTextLength } from './service-messages.js';

/** What services ask of the instances subsystem, and how instances follow their settings. */
export class InstanceRuntime {
  readonly #registry: InstanceRegistry;
  readonly #messages: ServiceMessages;

  constructor(registry: InstanceRegistry) {
    this.#registry = registry;
    this.#messages = new ServiceMessages(registry.options);
  }

  serviceReady(app: string, channel: ServiceChannel): void {
    this.#registry.channels.set(app, channel);
    void this.#hostAll(app, channel);
  }

  /**
   * Starts every enabled instance in a service that just became ready. Folders are checked
   * first: an instance finished after a crash, before its app was loaded, may lack its owner.
   */
  async #hostAll(app: string, channel: ServiceChannel): Promise<void> {
    const { options, channels } = this.#registry;
    const hosted = () =>
      this.#registry
        .ofApp(app)
        .filter((live) => live.row.provisioning === 'ready' && live.row.enabled);
    await resetRoles(
      options,
      hosted().map((live) => live.row),
    );
    for (const live of hosted()) {
      try {
        await prepareFolder(options, live.row);
      } catch (error) {
        const text = `its data folder cannot be prepared: ${(error as Error).message}`;
        live.lifecycle.dispatch('folderFailed', text);
        continue;
      }
      if (channels.get(app) === channel) live.lifecycle.dispatch('host');
    }
  }

  serviceGone(app: string): void {
    this.#registry.channels.delete(app);
    for (const live of this.#registry.ofApp(app)) live.lifecycle.dispatch('gone');
  }

  /**
   * What a service says besides `ready` and `log` (docs/service-protocol.md), parsed by the app
   * service: its answers about its instances feed their lifecycles (the table ignores what
   * does not fit the state, so a service repeating `instance.failed` cannot fill the event
   * log); the rest is its events and alarms (ServiceMessages). An instance it names that is
   * not its app's own is ignored, or taken as the service as a whole.
   */
  serviceMessage(app: string, message: ForwardedServiceMessage): void {
    const id = 'id' in message ? message.id : message.instance;
    const live = id === undefined ? undefined : this.#registry.live.get(id);
    const mine = live?.row.app === app ? live : undefined;
    switch (message.type) {
      case 'instance.ready':
        mine?.lifecycle.dispatch('ready');
        break;
      case 'instance.failed':
        mine?.lifecycle.dispatch('failed', escapeControls(message.error, maxTextLength));
        break;
      case 'instance.stopped':
        mine?.lifecycle.dispatch('stopped');
        break;
      default:
        this.#messages.handle(app, mine?.row.id, message);
        break;
    }
  }

  /**
   * Applies a change of settings to the running service: a disable stops the instance there,
   * an enable starts it (when its service runs), another change is sent as instance.update.
   */
  async push(live: Live, wasEnabled: boolean): Promise<void> {
    const { row, lifecycle } = live;
    lifecycle.setDesired(row.enabled);
    const channel = this.#registry.channels.get(row.app);
    if (wasEnabled && !row.enabled) {
      await lifecycle.stop();
    } else if (!wasEnabled && row.enabled) {
      lifecycle.dispatch('host');
    } else if (channel && row.enabled && lifecycle.state !== 'stopped') {
      channel.send({ type: 'instance.update', instance: describeRow(this.#registry.options, row) });
    }
  }
}
