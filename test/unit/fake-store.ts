/**
 * A fake of the store's `query` for unit tests of the instances and backup subsystems: the
 * statements they send (instances rows, the `operations` journal, `settings` rows) are
 * answered from memory, with the unique keys of the real tables. Any other statement throws,
 * so a test notices when the code sends SQL this fake does not know.
 */
import type { QueryResult, QueryResultRow } from 'pg';
import type { Row } from '../../src/core/instances/model.js';
import type { Query } from '../../src/core/store/index.js';

/** An instance row as the fake keeps it (with its node). */
export type StoredRow = Row & { node_id: string };

/** A journal entry as the fake keeps it. */
export interface StoredOperation {
  node_id: string;
  kind: string;
  subject: string;
  step: string;
  data: unknown;
  started_at: Date;
}

/** A unique key taken, as PostgreSQL reports it (SQLSTATE 23505). */
function uniqueViolation(constraint: string): Error {
  return Object.assign(
    new Error(`duplicate key value violates unique constraint "${constraint}"`),
    {
      code: '23505',
      constraint,
    },
  );
}

function result<R extends QueryResultRow>(rows: R[], rowCount = rows.length): QueryResult<R> {
  return { rows, rowCount, command: '', oid: 0, fields: [] };
}

/** The fake store: its tables, the statements it got, and `query`. */
export class FakeStore {
  readonly instances = new Map<string, StoredRow>();
  readonly operations: StoredOperation[] = [];
  readonly settings = new Map<string, unknown>();
  /** Every statement, whitespace folded. */
  readonly statements: string[] = [];
  /** When set, a statement it matches fails with this error (once). */
  failing: { match: RegExp; error: Error } | undefined;

  readonly query: Query = <R extends QueryResultRow = QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<QueryResult<R>> => {
    const sql = text.replace(/\s+/g, ' ').trim();
    this.statements.push(sql);
    try {
      if (this.failing?.match.test(sql)) {
        const { error } = this.failing;
        this.failing = undefined;
        throw error;
      }
      return Promise.resolve(this.#answer(sql, values) as QueryResult<R>);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };

  /** Adds a row as a previous run of the manager left it. */
  put(row: StoredRow): void {
    this.instances.set(row.id, structuredClone(row));
  }

  #answer(sql: string, v: unknown[]): QueryResult {
    if (sql.startsWith('SELECT value FROM settings WHERE key = $1')) {
      const key = v[0] as string;
      return result(this.settings.has(key) ? [{ value: this.settings.get(key) }] : []);
    }
    if (sql.startsWith('INSERT INTO settings (key, value, updated_at)')) {
      this.settings.set(v[0] as string, JSON.parse(v[1] as string));
      return result([], 1);
    }
    if (/^(SELECT .* FROM|INSERT INTO|UPDATE|DELETE FROM) operations\b/.test(sql)) {
      return this.#operation(sql, v);
    }
    return this.#instance(sql, v);
  }

  #instance(sql: string, v: unknown[]): QueryResult {
    const rows = [...this.instances.values()];
    const copy = (row: StoredRow) => structuredClone(row);
    if (/^SELECT .* FROM instances WHERE node_id = \$1$/.test(sql)) {
      return result(rows.filter((row) => row.node_id === v[0]).map(copy));
    }
    if (
      /^SELECT .* FROM instances WHERE id = \$1 AND node_id = \$2 AND provisioning <> 'ready'$/.test(
        sql,
      )
    ) {
      const found = this.instances.get(v[0] as string);
      const left = found && found.node_id === v[1] && found.provisioning !== 'ready';
      return result(left ? [copy(found)] : []);
    }
    if (
      sql.startsWith(
        'INSERT INTO instances (id, node_id, app, domain, path, password_sealed, db_name, db_password_sealed, provisioning)',
      )
    ) {
      const [id, node_id, app, domain, path, password_sealed, db_name, db_password_sealed] =
        v as string[];
      if (this.instances.has(id!)) throw uniqueViolation('instances_pkey');
      if (rows.some((row) => row.path === path)) throw uniqueViolation('instances_path_key');
      this.instances.set(id!, {
        id: id!,
        node_id: node_id!,
        app: app!,
        domain: domain!,
        path: path!,
        password_sealed: password_sealed!,
        db_name: db_name!,
        db_password_sealed: db_password_sealed!,
        trace_flags: [],
        enabled: true,
        exclude_from_backup: false,
        provisioning: 'creating',
        created_at: new Date(),
      });
      return result([], 1);
    }
    const provisioning =
      /^UPDATE instances SET provisioning = '(\w+)', updated_at = now\(\) WHERE id = \$1( AND node_id = \$2)?$/.exec(
        sql,
      );
    if (provisioning) {
      return this.#update(
        v[0],
        (row) => ({ ...row, provisioning: provisioning[1] as Row['provisioning'] }),
        provisioning[2] ? v[1] : undefined,
      );
    }
    if (
      sql.startsWith(
        'UPDATE instances SET domain = $2, path = $3, password_sealed = $4, enabled = $5, exclude_from_backup = $6,',
      )
    ) {
      if (rows.some((row) => row.id !== v[0] && row.path === v[2])) {
        throw uniqueViolation('instances_path_key');
      }
      return this.#update(
        v[0],
        (row) => ({
          ...row,
          domain: v[1] as string,
          path: v[2] as string,
          password_sealed: v[3] as string,
          enabled: v[4] as boolean,
          exclude_from_backup: v[5] as boolean,
        }),
        v[7],
      );
    }
    if (sql.startsWith('UPDATE instances SET trace_flags = $2,')) {
      return this.#update(v[0], (row) => ({ ...row, trace_flags: [...(v[1] as string[])] }), v[2]);
    }
    if (sql === 'DELETE FROM instances WHERE id = $1') {
      return result([], this.instances.delete(v[0] as string) ? 1 : 0);
    }
    throw new Error(`the fake store does not know: ${sql}`);
  }

  /** Changes the row `id` (only when `nodeId`, if given, owns it), as UPDATE would. */
  #update(id: unknown, change: (row: StoredRow) => StoredRow, nodeId?: unknown): QueryResult {
    const found = this.instances.get(id as string);
    const row = found && (nodeId === undefined || found.node_id === nodeId) ? found : undefined;
    if (row) this.instances.set(row.id, change(row));
    return result([], row ? 1 : 0);
  }

  #operation(sql: string, v: unknown[]): QueryResult {
    const same = (op: StoredOperation) =>
      op.node_id === v[0] && op.kind === v[1] && (v.length < 3 || op.subject === v[2]);
    const index = () => this.operations.findIndex(same);
    if (sql.startsWith('INSERT INTO operations (node_id, kind, subject, step, data)')) {
      const entry = {
        node_id: v[0] as string,
        kind: v[1] as string,
        subject: v[2] as string,
        step: v[3] as string,
        data: JSON.parse(v[4] as string) as unknown,
        started_at: new Date(),
      };
      const at = index();
      if (at >= 0) this.operations.splice(at, 1, entry);
      else this.operations.push(entry);
      return result([], 1);
    }
    if (sql.startsWith('UPDATE operations SET step = $4')) {
      const at = index();
      if (at >= 0) this.operations[at]!.step = v[3] as string;
      return result([], at >= 0 ? 1 : 0);
    }
    if (sql.startsWith('DELETE FROM operations WHERE')) {
      const at = index();
      if (at >= 0) this.operations.splice(at, 1);
      return result([], at >= 0 ? 1 : 0);
    }
    if (sql.startsWith('SELECT kind, subject, step, data, started_at FROM operations')) {
      return result(this.operations.filter(same).map((op) => structuredClone(op)));
    }
    throw new Error(`the fake store does not know: ${sql}`);
  }
}
