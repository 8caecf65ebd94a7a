import { randomBytes } from 'node:crypto';

/** Options of {@link InstanceGrants}. */
export interface InstanceGrantsOptions {
  /** How long a grant may be used. */
  ttlMs: number;
  /** Most grants kept at once; the oldest goes first. */
  max?: number;
  /**
   * On a node of a cluster, this node's id: each grant names it (`<random>.<node>`), so that
   * the front of another node, where the instance's page may be served, knows whom to ask.
   */
  node?: string;
  now?: () => number;
}

/** The node that issued a grant (see {@link InstanceGrantsOptions.node}); undefined: none named. */
export function grantNode(token: string): string | undefined {
  const dot = token.indexOf('.');
  return dot === -1 ? undefined : token.slice(dot + 1);
}

/**
 * Grants that let the page of one instance, opened by the admin from the admin UI, ask for an
 * admin login to that instance and to no other. The admin UI lives on its own origin, so an
 * app's page cannot use the admin's session: instead the UI hands the page a grant (in the URL
 * fragment, which never travels to a server), and the page trades it at the front for signed
 * AppWebsocket logins of that one instance. Kept in memory: a restart of the manager ends them.
 */
export class InstanceGrants {
  readonly #options: InstanceGrantsOptions;
  readonly #grants = new Map<string, { instance: string; expiresAt: number }>();

  constructor(options: InstanceGrantsOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  /** A new grant for `instance`: 256 random bits, base64url. */
  issue(instance: string): { token: string; expiresAt: string } {
    this.#sweep();
    const max = this.#options.max ?? 10_000;
    while (this.#grants.size >= max) {
      const oldest = this.#grants.keys().next().value;
      if (oldest === undefined) break;
      this.#grants.delete(oldest);
    }
    const random = randomBytes(32).toString('base64url');
    const token = this.#options.node === undefined ? random : `${random}.${this.#options.node}`;
    const expiresAt = this.#now() + this.#options.ttlMs;
    this.#grants.set(token, { instance, expiresAt });
    return { token, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The instance a grant is for, or undefined when it is unknown or expired. */
  instanceOf(token: string): string | undefined {
    const grant = this.#grants.get(token);
    if (!grant) return undefined;
    if (grant.expiresAt <= this.#now()) {
      this.#grants.delete(token);
      return undefined;
    }
    return grant.instance;
  }

  /** Ends every grant of an instance (it was deleted) or, without one, all of them. */
  revoke(instance?: string): void {
    for (const [token, grant] of this.#grants) {
      if (instance === undefined || grant.instance === instance) this.#grants.delete(token);
    }
  }

  #sweep(): void {
    const now = this.#now();
    for (const [token, grant] of this.#grants) {
      if (grant.expiresAt <= now) this.#grants.delete(token);
    }
  }
}
