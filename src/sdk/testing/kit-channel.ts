import type { Channel } from '../channel.js';
import type { ManagerMessage, ServiceMessage } from '../../lib/service-protocol.js';

/**
 * The test kit's side of the service protocol: it plays the manager, keeps every message the
 * service sends, and lets the kit wait for one.
 */
export class KitChannel implements Channel {
  /** Every message the service sent, in order. */
  readonly messages: ServiceMessage[] = [];
  #listener: ((message: unknown, handle?: unknown) => void) | undefined;
  readonly #waiters = new Set<() => void>();

  send(message: object): void {
    // Through JSON, as the IPC channel carries it: what cannot cross it fails here too.
    this.messages.push(JSON.parse(JSON.stringify(message)) as ServiceMessage);
    for (const wake of [...this.#waiters]) wake();
  }

  onMessage(listener: (message: unknown, handle?: unknown) => void): void {
    this.#listener = listener;
  }

  onClose(): void {
    // The kit closes the service itself (Service.close); this channel never closes under it.
  }

  /** Hands a message to the service as the manager would. */
  deliver(message: ManagerMessage): void {
    this.#listener?.(JSON.parse(JSON.stringify(message)));
  }

  /**
   * The first message at or after index `from` that `match` accepts; rejects with `timeoutText`
   * after `timeoutMs`.
   */
  waitFor<T extends ServiceMessage>(
    match: (message: ServiceMessage) => message is T,
    from: number,
    timeoutMs: number,
    timeoutText: string,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      let seen = from;
      const check = (): boolean => {
        for (; seen < this.messages.length; seen++) {
          const message = this.messages[seen]!;
          if (match(message)) {
            resolve(message);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const wake = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(timeoutText));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}
