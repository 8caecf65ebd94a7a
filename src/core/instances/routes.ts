/** The web paths of the instances, as the front resolves them. */
import { PathRouter } from '../../lib/path-router.js';
import type { Live } from './registry.js';

/** What the front needs of the instance serving a path. */
export interface ResolvedRoute {
  id: string;
  app: string;
  path: string;
  ready: boolean;
}

/**
 * Web paths → instances. Changed synchronously, in one step with the settings they come
 * from, so a request sees either the old path or the new one.
 */
export class RouteTable {
  readonly #router = new PathRouter<Live>();

  set(path: string, live: Live): void {
    this.#router.set(path, live);
  }

  delete(path: string): void {
    this.#router.delete(path);
  }

  /** Moves an instance from one path to another (nothing when they are equal). */
  move(from: string, to: string, live: Live): void {
    if (from === to) return;
    this.#router.delete(from);
    this.#router.set(to, live);
  }

  /** The instance serving a web path (longest whole-segment match). */
  resolve(path: string): ResolvedRoute | undefined {
    const found = this.#router.match(path)?.value;
    if (!found) return undefined;
    return {
      id: found.row.id,
      app: found.row.app,
      path: found.row.path,
      ready: found.lifecycle.state === 'ready',
    };
  }
}
