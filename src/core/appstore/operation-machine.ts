/**
 * The phase of an app store operation (an install or an update, as the UI shows its progress),
 * as a table: phase × event → next phase + actions, in the manner of supervisor/machine.ts.
 * It is pure: {@link StoreOperations} feeds it events and carries out the actions.
 */

/** The steps of an install or update, in order. */
export type OperationPhase =
  'downloading' | 'backing-up' | 'installing' | 'waiting' | 'rolling-back' | 'done' | 'failed';

/**
 * What happens to an operation. An install goes `install` → `succeed`; an update `backUp` →
 * `install` → (`wait` →) `succeed`, or `rollBack` after the wait; any step may `fail`.
 */
export type OperationEvent = 'backUp' | 'install' | 'wait' | 'rollBack' | 'succeed' | 'fail';

/** What the tracker does on a transition. */
export type OperationAction = 'markRolledBack' | 'stampFinish' | 'recordError';

export interface OperationTransition {
  next: OperationPhase;
  actions: readonly OperationAction[];
}

const failed: OperationTransition = { next: 'failed', actions: ['stampFinish', 'recordError'] };
const done: OperationTransition = { next: 'done', actions: ['stampFinish'] };

/**
 * The table. A pair that is not listed has no effect: `done` and `failed` are final, and a
 * rollback under way never ends as `done` (it either puts the previous version back, which
 * fails the update, or fails itself). A rollback begun again (resumed after a restart of the
 * manager) stays `rolling-back`.
 */
export const operationTransitions: Readonly<
  Record<OperationPhase, Partial<Record<OperationEvent, OperationTransition>>>
> = {
  downloading: {
    backUp: { next: 'backing-up', actions: [] },
    install: { next: 'installing', actions: [] },
    fail: failed,
  },
  'backing-up': {
    install: { next: 'installing', actions: [] },
    fail: failed,
  },
  installing: {
    wait: { next: 'waiting', actions: [] },
    // An update of an app that did not run and does not autostart is not waited for.
    succeed: done,
    fail: failed,
  },
  waiting: {
    rollBack: { next: 'rolling-back', actions: ['markRolledBack'] },
    succeed: done,
    fail: failed,
  },
  'rolling-back': {
    rollBack: { next: 'rolling-back', actions: ['markRolledBack'] },
    fail: failed,
  },
  done: {},
  failed: {},
};

/** Looks a transition up; undefined when the event has no effect in that phase. */
export function operationTransition(
  phase: OperationPhase,
  event: OperationEvent,
): OperationTransition | undefined {
  return operationTransitions[phase][event];
}

/**
 * Phases an operation may begin in: a download, a backup (an update from a package file that
 * is here already), or an update resumed after a restart.
 */
export type InitialPhase = 'downloading' | 'backing-up' | 'waiting' | 'rolling-back';
