interface Node<T> {
  children: Map<string, Node<T>>;
  value?: T | undefined;
  path?: string | undefined;
}

/** What {@link PathRouter.match} found: the value and the path it was registered under. */
export interface RouteMatch<T> {
  value: T;
  path: string;
}

/**
 * Maps web paths to values by longest match on whole path segments: `/a/b` matches `/a/b`,
 * `/a/b/` and `/a/b/c`, never `/a/bc`. Case-sensitive. A lookup walks one node per segment of
 * the request path, so its cost does not grow with the number of routes.
 */
export class PathRouter<T> {
  readonly #root: Node<T> = { children: new Map() };
  #size = 0;

  get size(): number {
    return this.#size;
  }

  static segments(path: string): string[] {
    return path.split('/').filter((segment) => segment.length > 0);
  }

  /** Registers (or replaces) the value of a path. */
  set(path: string, value: T): void {
    let node = this.#root;
    for (const segment of PathRouter.segments(path)) {
      let next = node.children.get(segment);
      if (!next) {
        next = { children: new Map() };
        node.children.set(segment, next);
      }
      node = next;
    }
    if (node.value === undefined) this.#size++;
    node.value = value;
    node.path = path;
  }

  /** Removes a path; false when it was not registered. */
  delete(path: string): boolean {
    const trail: [Node<T>, string][] = [];
    let node = this.#root;
    for (const segment of PathRouter.segments(path)) {
      const next = node.children.get(segment);
      if (!next) return false;
      trail.push([node, segment]);
      node = next;
    }
    if (node.value === undefined) return false;
    node.value = undefined;
    node.path = undefined;
    this.#size--;
    // Prune branches left empty.
    for (let i = trail.length - 1; i >= 0; i--) {
      const [parent, segment] = trail[i]!;
      const child = parent.children.get(segment)!;
      if (child.value !== undefined || child.children.size > 0) break;
      parent.children.delete(segment);
    }
    return true;
  }

  /** The longest registered path that is a whole-segment prefix of `path` (no query string). */
  match(path: string): RouteMatch<T> | undefined {
    let node = this.#root;
    let best: RouteMatch<T> | undefined =
      node.value !== undefined ? { value: node.value, path: node.path ?? '/' } : undefined;
    let start = 0;
    while (start < path.length) {
      while (path.charCodeAt(start) === 47 /* / */) start++;
      if (start >= path.length) break;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      const next = node.children.get(path.slice(start, end));
      if (!next) break;
      node = next;
      if (node.value !== undefined) best = { value: node.value, path: node.path! };
      start = end;
    }
    return best;
  }
}
