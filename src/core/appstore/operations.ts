import type { KeyedQueue } from '../../lib/keyed-queue.js';
import { AppvisorError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import {
  operationTransition,
  type InitialPhase,
  type OperationEvent,
} from './operation-machine.js';
import type { StoreOperation, StoreProblem } from './types.js';

/** How long a finished operation is still listed. */
const operationKept = 10 * 60_000;

/**
 * The installs and updates under way, one per app, and those finished in the last 10 minutes:
 * what the UI shows as progress. Phases change only through the table of operation-machine.ts.
 */
export class StoreOperations {
  readonly #operations = new Map<string, StoreOperation>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  /** Installs, or updates, or recent ones (finished less than 10 minutes ago). */
  list(): StoreOperation[] {
    const now = this.#now().getTime();
    for (const [app, op] of this.#operations) {
      if (op.finishedAt && now - Date.parse(op.finishedAt) > operationKept) {
        this.#operations.delete(app);
      }
    }
    return [...this.#operations.values()].map((op) => ({ ...op }));
  }

  /** Begins an operation on an app (replacing its last one), of a package of `size` bytes. */
  begin(
    action: StoreOperation['action'],
    app: string,
    target: { version: string; build: number; size: number },
    phase: InitialPhase = 'downloading',
  ): StoreOperation {
    const op: StoreOperation = {
      app,
      action,
      version: target.version,
      build: target.build,
      phase,
      received: 0,
      total: target.size,
      startedAt: this.#now().toISOString(),
      finishedAt: null,
      error: null,
      rolledBack: false,
    };
    this.#operations.set(op.app, op);
    return op;
  }

  /**
   * Feeds the table an event; `fail` takes the error. Answers false when the event has no
   * effect in the operation's phase (a finished operation stays as it ended).
   */
  advance(op: StoreOperation, event: OperationEvent, error?: unknown): boolean {
    const step = operationTransition(op.phase, event);
    if (!step) return false;
    op.phase = step.next;
    for (const action of step.actions) {
      switch (action) {
        case 'markRolledBack':
          op.rolledBack = true;
          break;
        case 'stampFinish':
          op.finishedAt = this.#now().toISOString();
          break;
        case 'recordError':
          op.error = problemOf('', error);
          break;
      }
    }
    return true;
  }

  /** Ends an operation: `done` without an error, else `failed` with it. */
  finish(op: StoreOperation, error?: unknown): void {
    if (error === undefined) this.advance(op, 'succeed');
    else this.advance(op, 'fail', error);
  }
}

/** What every job that runs operations shares. */
export interface OperationParts {
  operations: StoreOperations;
  /** The apps' turns: one install or update of an app at a time. */
  queue: KeyedQueue;
  events: Pick<EventLog, 'record'>;
}

/** An error as a store problem: its stable code, or INTERNAL for what is not an AppvisorError. */
export function problemOf(store: string, error: unknown): StoreProblem {
  if (error instanceof AppvisorError) return { store, code: error.code, message: error.message };
  return { store, code: 'INTERNAL', message: (error as Error).message };
}
