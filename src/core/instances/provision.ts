/**
 * Making and removing instances: the row, the database and its roles, the data folder. A
 * creation or deletion is recorded (the row's `provisioning`) before it starts and finished
 * or undone at the next start after a crash, so an instance is always either complete or gone.
 */
import { generatePassword } from '../auth/index.js';
import { removeTree } from '../../lib/safe-fs.js';
import { instanceDatabaseName } from '../database/index.js';
import { AppvisorError } from '../errors/index.js';
import { clearInstanceAlarms } from './instance-alarms.js';
import { rowColumns, type InstanceView, type RestoreTarget, type Row } from './model.js';
import type { InstanceRegistry } from './registry.js';
import type { Restorer } from './restore.js';
import { databaseOf, movedAway, prepareFolder, uniqueViolation } from './rows.js';

/** What a new instance is made with (validated before). */
export interface NewInstance {
  app: string;
  id: string;
  domain: string;
  path: string;
  password?: string | undefined;
  /** Fills the new database and folder (a restore as a new instance). */
  fill?: ((target: RestoreTarget) => Promise<void>) | undefined;
}

/** Creates and deletes instances, and finishes what a crash cut off. */
export class Provisioner {
  readonly #registry: InstanceRegistry;
  readonly #restorer: Restorer;

  constructor(registry: InstanceRegistry, restorer: Restorer) {
    this.#registry = registry;
    this.#restorer = restorer;
  }

  /**
   * At start: a row still `creating` is undone (its client was never told it worked, or was
   * told it failed), one `deleting` is finished. A failure leaves the row: the next create or
   * delete of the id tries again.
   */
  async recover(row: Row): Promise<void> {
    const { logger } = this.#registry.options;
    logger.warn(
      { instance: row.id },
      row.provisioning === 'creating'
        ? 'undoing an instance creation that was cut off or failed'
        : 'finishing an interrupted instance deletion',
    );
    await this.#deprovision(row).catch((error: unknown) => {
      logger.error({ err: error, instance: row.id }, 'cannot remove what is left of an instance');
    });
  }

  /**
   * Creates an instance, in its id's queue: recorded as `creating`, its role, database and
   * folder made, filled when asked, then `ready`, listed and hosted in its service when that
   * runs. A failure undoes every step; what cannot be undone then is undone by the next
   * create or delete of the id, or the next start, as is a creation a crash cut off.
   */
  async create(made: NewInstance): Promise<InstanceView> {
    const registry = this.#registry;
    const { options } = registry;
    const { app, id, path } = made;
    return registry.queue.run(id, async () => {
      if (registry.live.has(id))
        throw new AppvisorError('INSTANCE_EXISTS', `an instance "${id}" exists already`, {
          field: 'id',
        });
      await this.removeLeftover(id);
      const row = await this.#insert(made);
      try {
        await registry.pause('instance.provision');
        await options.database.ensure(databaseOf(options, row));
        await prepareFolder(options, row);
        if (made.fill) await this.#restorer.replace(row, undefined, made.fill);
        await options.store.query(
          "UPDATE instances SET provisioning = 'ready', updated_at = now() WHERE id = $1",
          [id],
        );
        row.provisioning = 'ready';
      } catch (error) {
        await this.#deprovision(row).catch((cleanup: unknown) => {
          options.logger.error(
            { err: cleanup, instance: id },
            'cleaning up a failed instance creation failed; the next create or delete of the id, or the next start, does',
          );
        });
        throw error;
      }
      const live = registry.add(row);
      options.events.record({
        kind: 'instance.created',
        severity: 'info',
        subject: id,
        text: `instance ${id} of ${app} created at ${path}`,
      });
      live.lifecycle.dispatch('host');
      return registry.view(live);
    });
  }

  /** Records a new instance's row as `creating`. */
  async #insert(made: NewInstance): Promise<Row> {
    const { options } = this.#registry;
    const row: Row = {
      id: made.id,
      app: made.app,
      domain: made.domain,
      path: made.path,
      password_sealed: options.secrets.seal(made.password ?? generatePassword()),
      db_name: instanceDatabaseName(made.id),
      db_password_sealed: options.secrets.seal(generatePassword()),
      trace_flags: [],
      enabled: true,
      exclude_from_backup: false,
      provisioning: 'creating',
      created_at: new Date(),
    };
    try {
      await options.store.query(
        `INSERT INTO instances (id, node_id, app, domain, path, password_sealed, db_name, db_password_sealed, provisioning)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'creating')`,
        [
          row.id,
          options.nodeId,
          row.app,
          row.domain,
          row.path,
          row.password_sealed,
          row.db_name,
          row.db_password_sealed,
        ],
      );
    } catch (error) {
      throw uniqueViolation(error, row.id, row.path);
    }
    return row;
  }

  /**
   * Deletes an instance, in its id's queue: recorded as `deleting`, unrouted, stopped in its
   * service, its database, role and folder removed, then its row; its alarms cleared. For an
   * id not listed, removes what a failed creation or deletion left, if anything.
   */
  async delete(id: string): Promise<void> {
    const registry = this.#registry;
    const { options } = registry;
    await registry.queue.run(id, async () => {
      if (!registry.live.has(id) && (await this.removeLeftover(id))) return;
      const live = registry.get(id);
      // Only the owner removes an instance: on a cluster another node may have taken it over
      // since this one loaded it (its database is the platform's, and in use there).
      const marked = await options.store.query(
        "UPDATE instances SET provisioning = 'deleting', updated_at = now() WHERE id = $1 AND node_id = $2",
        [id, options.nodeId],
      );
      if (marked.rowCount === 0) throw movedAway(id);
      live.row = { ...live.row, provisioning: 'deleting' };
      registry.routes.delete(live.row.path);
      await live.lifecycle.stop();
      await this.#deprovision(live.row);
      registry.live.delete(id);
      registry.usage.delete(id);
      clearInstanceAlarms(options.alarms, live.row);
      options.events.record({
        kind: 'instance.deleted',
        severity: 'info',
        subject: id,
        text: `instance ${id} deleted`,
      });
    });
  }

  /**
   * Removes what a failed creation or deletion of `id` left (its row stays `creating` or
   * `deleting` when the undo failed too, e.g. on a full disk): then the id is free again.
   */
  async removeLeftover(id: string): Promise<boolean> {
    const { options } = this.#registry;
    const found = await options.store.query<Row>(
      `SELECT ${rowColumns} FROM instances WHERE id = $1 AND node_id = $2 AND provisioning <> 'ready'`,
      [id, options.nodeId],
    );
    const row = found.rows[0];
    if (!row) return false;
    options.logger.warn({ instance: id }, 'removing what a failed operation left');
    await this.#deprovision(row);
    return true;
  }

  /** Drops the database and role, removes the folder and the row; each step may run again. */
  async #deprovision(row: Row): Promise<void> {
    const { options } = this.#registry;
    await options.database.drop(row.db_name);
    await removeTree(this.#registry.dataDir(row));
    await options.store.query('DELETE FROM instances WHERE id = $1', [row.id]);
  }
}
