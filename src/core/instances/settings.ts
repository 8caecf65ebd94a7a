/** Changing an instance's settings and trace flags: stored, then pushed to its service. */
import { generatePassword } from '../auth/index.js';
import type { InstanceView, Row } from './model.js';
import type { InstanceRegistry } from './registry.js';
import { databaseOf, movedAway, uniqueViolation } from './rows.js';
import type { InstanceRuntime } from './runtime.js';
import { applyTraceChanges, checkPassword, normalizeDomain, normalizePath } from './validation.js';

/** A change of settings, as the API takes it. */
export interface SettingsChange {
  domain?: string;
  path?: string;
  password?: string;
  enabled?: boolean;
  excludeFromBackup?: boolean;
  /** Gives the instance's database role a new generated password (never shown). */
  rotateDbPassword?: boolean;
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
    const rotate = change.rotateDbPassword === true;
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
        db_password_sealed: rotate
          ? options.secrets.seal(generatePassword())
          : live.row.db_password_sealed,
      };
      // The role first, then the row: a crash between leaves the old password stored, which
      // the next hosting of the instance gives the role again (runtime.ts, resetRoles).
      if (rotate) await options.database.resetRoles([databaseOf(options, next)]);
      let written;
      try {
        written = await options.store.query(
          `UPDATE instances SET domain = $2, path = $3, password_sealed = $4, enabled = $5,
             exclude_from_backup = $6, db_password_sealed = $7, updated_at = now()
           WHERE id = $1 AND node_id = $8`,
          [
            id,
            next.domain,
            next.path,
            next.password_sealed,
            next.enabled,
            next.exclude_from_backup,
            next.db_password_sealed,
            options.nodeId,
          ],
        );
      } catch (error) {
        if (rotate) await this.#restoreRole(live.row);
        throw uniqueViolation(error, id, next.path);
      }
      if (written.rowCount === 0) {
        if (rotate) await this.#restoreRole(live.row);
        throw movedAway(id);
      }
      const wasEnabled = live.row.enabled;
      // Synchronous from here: readers see the old settings and route or the new ones.
      registry.routes.move(live.row.path, next.path, live);
      live.row = next;
      // The running service gets the new credentials with instance.update: its open
      // connections stay logged in (PostgreSQL checks a password at login only), new ones
      // use the new password.
      await this.#runtime.push(live, wasEnabled);
      if (rotate)
        options.events.record({
          kind: 'instance.db-password',
          severity: 'info',
          subject: id,
          text: `instance ${id}: its database role has a new password`,
        });
      return registry.view(live);
    });
  }

  /**
   * Gives the role back the password of `row` after a rotation that could not be stored. When
   * that fails too, the role keeps the new one until the instance is hosted next (which sets
   * the stored one again); until then its service's new connections are refused.
   */
  async #restoreRole(row: Row): Promise<void> {
    const { options } = this.#registry;
    await options.database.resetRoles([databaseOf(options, row)]).catch((error: unknown) => {
      options.logger.error(
        { err: error, instance: row.id },
        'cannot give the instance role its stored password back after a failed rotation',
      );
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
      const written = await options.store.query(
        'UPDATE instances SET trace_flags = $2, updated_at = now() WHERE id = $1 AND node_id = $3',
        [id, flags, options.nodeId],
      );
      if (written.rowCount === 0) throw movedAway(id);
      live.row = { ...live.row, trace_flags: flags };
      await this.#runtime.push(live, live.row.enabled);
      return registry.view(live);
    });
  }
}
