/**
 * A small synchronous event emitter whose event names and payloads are typed by one map, so a
 * subsystem can tell others what happened without knowing them (the one who composes the
 * subsystems subscribes the listeners).
 *
 * @example
 * ```ts
 * interface Events { 'service.gone': { app: string } }
 * const emitter = new TypedEmitter<Events>();
 * const off = emitter.on('service.gone', ({ app }) => console.log(app));
 * emitter.emit('service.gone', { app: 'notes' });
 * off();
 * ```
 */
export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /**
   * Calls `listener` with the payload of every `name` emitted from now on, in the order the
   * listeners were added; returns what removes it again.
   */
  on<Name extends keyof Events>(name: Name, listener: (payload: Events[Name]) => void): () => void {
    let listeners = this.#listeners.get(name);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(name, listeners);
    }
    listeners.add(listener);
    return () => {
      this.off(name, listener);
    };
  }

  /** Removes a listener added by {@link on}; nothing happens when it is not there. */
  off<Name extends keyof Events>(name: Name, listener: (payload: Events[Name]) => void): void {
    this.#listeners.get(name)?.delete(listener);
  }

  /**
   * Calls the listeners of `name` now, one after the other. Like `node:events`, a listener
   * that throws ends the emit: the error reaches the caller and later listeners are skipped.
   */
  emit<Name extends keyof Events>(name: Name, payload: Events[Name]): void {
    const listeners = this.#listeners.get(name);
    if (!listeners) return;
    // A copy: a listener may remove itself (or add others) while this runs.
    for (const listener of [...listeners]) (listener as (payload: Events[Name]) => void)(payload);
  }

  /** How many listeners `name` has. */
  listenerCount(name: keyof Events): number {
    return this.#listeners.get(name)?.size ?? 0;
  }
}
