/**
 * The roll of a platform package from node to node (docs/cluster.md, "Apps"): what one node
 * does with a package on one pass of its app sync. Pure, so that the rules can be tested
 * without a store; the store's conditional update re-checks the take, whatever raced.
 */

/** The code of the alarm a node raises when a package it tried stopped the roll. */
export const rolloutHaltedAlarm = 'app-rollout-halted';

/** The platform's package of an app as one pass reads it, with the state of its roll. */
export interface PlatformPackage {
  app: string;
  sha256: string;
  /** The autostart of the node it came from. */
  autostart: boolean;
  /** The node installing it now (it holds the roll); null: none. */
  rollingNode: string | null;
  /** Whether that node's lease runs (neither stopped nor run out). */
  rollingUp: boolean;
  /** Why the roll stopped (a node could not get it ready); null: it goes on. */
  halted: string | null;
}

/**
 * What this node does with one package:
 *
 * - `current`: it has that package already;
 * - `own`: its own install of the app, not yet published (publishing comes first, and an app
 *   too large to share stays this node's);
 * - `failed`: it could not use these bytes before (a sha256 that does not match), until
 *   another package replaces them;
 * - `halted`: a node could not get it ready: no node installs it;
 * - `wait`: another node whose lease runs is installing it; one node at a time;
 * - `take`: this node takes the roll (free, its own from a previous run, or held by a node
 *   whose lease ran out: a node lost mid-roll lets go by its lease, with no timer of its own).
 */
export type RollStep = 'current' | 'own' | 'failed' | 'halted' | 'wait' | 'take';

/**
 * The step of one package on this node.
 *
 * @param have the package this node installed the app from: undefined when it does not
 *   have the app, null when it installed it itself (not from the platform's package)
 * @param failed the packages whose bytes this node found wrong
 */
export function rollStep(
  entry: PlatformPackage,
  have: string | null | undefined,
  self: string,
  failed: ReadonlySet<string>,
): RollStep {
  if (have === entry.sha256) return 'current';
  if (have === null) return 'own';
  if (failed.has(entry.sha256)) return 'failed';
  if (entry.halted !== null) return 'halted';
  if (entry.rollingNode !== null && entry.rollingNode !== self && entry.rollingUp) return 'wait';
  return 'take';
}

/**
 * What an app is that this node was installing from the platform when its manager stopped,
 * told by the sha256 of its installed folder as packed now: the platform's package (the
 * install finished), the package it had before (the unfinished update was rolled back: the
 * roll is taken again later, never published, which would roll every node back to it), or
 * something else (installed by hand since: published).
 */
export function interruptedInstall(
  installed: string,
  platform: string | undefined,
  had: string,
): 'installed' | 'rolled-back' | 'by-hand' {
  if (installed === platform) return 'installed';
  return installed === had ? 'rolled-back' : 'by-hand';
}

/**
 * Whether this node's `app-rollout-halted` alarm of an app still holds: the package it halted
 * is still the platform's, halted. A newer package (which clears the halt) or an uninstall
 * (no package) ends it.
 */
export function haltStillHolds(
  packages: readonly Pick<PlatformPackage, 'app' | 'halted'>[],
  app: string,
): boolean {
  return packages.some((entry) => entry.app === app && entry.halted !== null);
}
