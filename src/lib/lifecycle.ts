/**
 * The contract every long-lived part of the manager keeps.
 *
 * - `start()` brings the component up; it may be called once.
 * - `close()` shuts it down gracefully; calling it again returns the same promise.
 * - `destroy()` tears it down at once (a second signal, a failed start); it never throws.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

/**
 * Wraps a close function so that every call after the first returns the first call's promise.
 */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => (pending ??= fn());
}

/**
 * Starts components in order and closes them in reverse order. When one fails to start, the
 * ones already started are closed (reverse order) before the error is rethrown, so a failed
 * start leaves nothing running.
 */
export class ComponentGroup {
  readonly #components: Component[] = [];
  readonly #started: Component[] = [];
  readonly #close = once(async () => {
    const errors: unknown[] = [];
    for (const component of [...this.#started].reverse()) {
      try {
        await component.close();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#started.length = 0;
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several components failed to close');
  });

  /** Adds a component; it is started by {@link start} after the ones added before it. */
  add<T extends Component>(component: T): T {
    this.#components.push(component);
    return component;
  }

  /** Starts one component now, as part of this group (closed with it, in reverse order). */
  async startOne<T extends Component>(component: T): Promise<T> {
    this.add(component);
    await component.start();
    this.#started.push(component);
    return component;
  }

  async start(): Promise<void> {
    for (const component of this.#components) {
      if (this.#started.includes(component)) continue;
      try {
        await component.start();
      } catch (error) {
        try {
          await this.close();
        } catch {
          // the start error is the one to report
        }
        throw error;
      }
      this.#started.push(component);
    }
  }

  close(): Promise<void> {
    return this.#close();
  }

  destroy(): void {
    for (const component of [...this.#started].reverse()) {
      try {
        component.destroy();
      } catch {
        // destroy must reach every component
      }
    }
    this.#started.length = 0;
  }
}
