/** Changing an instance's settings and trace flags: stored, then pushed to its service. */
import type { InstanceView, Row } from './model.js';
import type { InstanceRegistry } from './registry.js';
import { uniqueViolation } from './rows.js';
import type { InstanceRuntime } from './runtime.js';
import { applyTraceChanges, checkPassword, normalizeDomain, normalizePath } from './validation.js';

/** A change of settings, as the API takes it. */
export interface SettingsChange {
  domain?: string;
  path?: string;
  password?: string;
  enabled?: boolean;
  excludeFromBackup?: boolean;
}

/** Settings and trace flags of instances. */
export class InstanceSettings {
  readonly #registry: InstanceRegistry;
  readonly #runtime: InstanceRuntime;

  constructor(registry: InstanceRegistry, runtime: InstanceRuntime) {
    this.#registry = registry;
    this.#runtime = runtime;
  }

  /** Changes settings: stored, then pushed to the running service (or started/stopped). */
  async set(id: string, change: SettingsChange): Promise<InstanceView> {
    const registry = this.#registry;
    const { options } = registry;
    const domain = change.domain === undefined ? undefined : normalizeDomain(change.domain);
    const path = change.path === undefined ? undefined : normalizePath(change.path);
    if (change.password !== undefined) checkPassword(change.password);
    return registry.queue.run(id, async () => {
      const live = registry.get(id);
      const next: Row = {
        ...live.row,
        domain: domain ?? live.row.domain,
        path: path ?? live.row.path,
        password_sealed:
          change.password === undefined
            ? live.row.password_sealed
            : options.secrets.seal(change.password),
        enabled: change.enabled ?? live.row.enabled,
        exclude_from_backup: change.excludeFromBackup ?? live.row.exclude_from_backup,
      };
      try {
        await options.store.query(
          `UPDATE instances SET domain = $2, path = $3, password_sealed = $4, enabled = $5,
             exclude_from_backup = $6, updated_at = now() WHERE id = $1`,
          [
            id,
            next.domain,
            next.path,
            next.password_sealed,
            next.enabled,
            next.exclude_from_backup,
          ],
        );
      } catch (error) {
        throw uniqueViolation(error, id, next.path);
      }
      const wasEnabled = live.row.enabled;
      // Synchronous from here: readers see the old settings and route or the new ones.
      registry.routes.move(live.row.path, next.path, live);
      live.row = next;
      await this.#runtime.push(live, wasEnabled);
      return registry.view(live);
    });
  }

  /** Turns trace flags on (`+flag`) and off (`-flag`); the running instance gets them at once. */
  async trace(id: string, changes: readonly string[]): Promise<InstanceView> {
    const registry = this.#registry;
    const { options } = registry;
    return registry.queue.run(id, async () => {
      const live = registry.get(id);
      const declared = options.apps.traceFlagsOf(live.row.app);
      const flags = applyTraceChanges(live.row.trace_flags, changes, declared);
      await options.store.query(
        'UPDATE instances SET trace_flags = $2, updated_at = now() WHERE id = $1',
        [id, flags],
      );
      live.row = { ...live.row, trace_flags: flags };
      await this.#runtime.push(live, live.row.enabled);
      return registry.view(live);
    });
  }
}
