import { createHash, randomBytes } from 'node:crypto';
import { once, type Component } from '../../lib/lifecycle.js';
import { AppvisorError } from '../errors/index.js';
import { putSetting, type Store } from '../store/index.js';
import { HashGate } from './hash-gate.js';
import { LoginLimiter } from './login-limiter.js';
import { generatePassword, hashPassword, minPasswordLength, verifyPassword } from './password.js';

const passwordKey = 'admin.passwordHash';

/**
 * Name of the admin UI's session cookie. Cookies do not keep to a port: the front keeps apps
 * from setting or clearing one of this name (see the front's proxy).
 */
export const sessionCookieName = 'appvisor_session';

/** Options of {@link AdminAuth}. */
export interface AdminAuthOptions {
  store: Store;
  nodeId: string;
  sessionMs: number;
  loginAttempts: number;
  loginWindowMs: number;
  /** Password hashes run at once (default 2) and hashes that may wait (default 8). */
  hashConcurrency?: number;
  hashQueue?: number;
  now?: () => number;
}

/** A login: the bearer token (also the cookie value) and when it ends. */
export interface AdminSession {
  token: string;
  expiresAt: string;
}

function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * The admin password (scrypt hash in the store) and the logins made with it. Tokens are
 * random 256-bit strings; only their SHA-256 is stored, so a copy of the store gives no
 * usable token. Changing the password ends every login.
 */
export class AdminAuth implements Component {
  readonly name = 'admin-auth';
  readonly #options: AdminAuthOptions;
  readonly #limiter: LoginLimiter;
  /** Every scrypt of the admin password goes through it: logins, changes, the first start. */
  readonly #hashes: HashGate;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AdminAuthOptions) {
    this.#options = options;
    this.#limiter = new LoginLimiter({
      attempts: options.loginAttempts,
      windowMs: options.loginWindowMs,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#hashes = new HashGate({
      concurrency: options.hashConcurrency ?? 2,
      queue: options.hashQueue ?? 8,
    });
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  async start(): Promise<void> {
    await this.#purgeExpired();
    this.#timer = setInterval(() => {
      this.#purgeExpired().catch(() => undefined);
    }, 3600_000);
    this.#timer.unref();
  }

  async #purgeExpired(): Promise<void> {
    await this.#options.store.query('DELETE FROM admin_sessions WHERE expires_at < now()');
  }

  /**
   * Makes sure an admin password exists. On the first start it is `initial` when given,
   * else a generated one, which is returned so that it can be shown once; otherwise null.
   */
  async ensurePassword(initial: string | null): Promise<string | null> {
    const found = await this.#options.store.query('SELECT 1 FROM settings WHERE key = $1', [
      passwordKey,
    ]);
    if (found.rowCount) return null;
    const password = initial ?? generatePassword();
    const hash = await this.#hashes.run(() => hashPassword(password));
    const inserted = await this.#options.store.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [passwordKey, JSON.stringify(hash)],
    );
    // When another manager sharing the store set it meanwhile, that one stands.
    if (!inserted.rowCount) return null;
    return initial ? null : password;
  }

  /**
   * Sets a new admin password (a generated one when none is given, which is returned) and
   * ends every existing login.
   */
  async setPassword(password?: string): Promise<string | undefined> {
    if (password !== undefined && password.length < minPasswordLength) {
      throw new AppvisorError(
        'PASSWORD_WEAK',
        `the password must have at least ${minPasswordLength} characters`,
        { field: 'password' },
      );
    }
    const chosen = password ?? generatePassword();
    const hash = await this.#hashes.run(() => hashPassword(chosen));
    await this.#options.store.transaction(async (query) => {
      await putSetting(query, passwordKey, hash);
      await query('DELETE FROM admin_sessions');
    });
    return password === undefined ? chosen : undefined;
  }

  /**
   * Checks the password and opens a login. `client` identifies the caller for rate limiting.
   * The attempt is counted before the password is hashed (so concurrent attempts cannot
   * outrun the limit) and given back only when it succeeds or was refused before hashing.
   */
  async login(password: string, client: string): Promise<AdminSession> {
    await this.checkPassword(password, client);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.#now() + this.#options.sessionMs);
    await this.#options.store.query(
      'INSERT INTO admin_sessions (token_hash, node_id, client, expires_at) VALUES ($1, $2, $3, $4)',
      [tokenHash(token), this.#options.nodeId, client, expiresAt],
    );
    return { token, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Checks the admin password as a login does, under the same limit per client and the same cap
   * on hashes at once; LOGIN_FAILED when it is wrong. Also what a password change over HTTP
   * asks for, so that a stolen session cannot lock the admin out.
   */
  async checkPassword(password: string, client: string): Promise<void> {
    const reservation = this.#limiter.reserve(client);
    let valid: boolean;
    try {
      // The gate admits or refuses at once, before anything else is spent on the attempt.
      valid = await this.#hashes.run(async () => {
        const row = await this.#options.store.query<{ value: string }>(
          'SELECT value FROM settings WHERE key = $1',
          [passwordKey],
        );
        const hash = row.rows[0]?.value;
        return hash !== undefined && (await verifyPassword(password, hash));
      });
    } catch (error) {
      // Not checked (too many hashes at once, no database): the attempt does not count.
      this.#limiter.release(reservation);
      throw error;
    }
    if (!valid) throw new AppvisorError('LOGIN_FAILED');
    this.#limiter.succeed(client);
  }

  /** The login a token belongs to, or null when it is unknown or expired. */
  async verify(token: string): Promise<{ expiresAt: string } | null> {
    if (token.length === 0 || token.length > 200) return null;
    const result = await this.#options.store.query<{ expires_at: Date }>(
      'SELECT expires_at FROM admin_sessions WHERE token_hash = $1 AND expires_at > $2',
      [tokenHash(token), new Date(this.#now())],
    );
    const row = result.rows[0];
    return row ? { expiresAt: row.expires_at.toISOString() } : null;
  }

  /** Ends one login. */
  async logout(token: string): Promise<void> {
    await this.#options.store.query('DELETE FROM admin_sessions WHERE token_hash = $1', [
      tokenHash(token),
    ]);
  }

  readonly close = once(async () => {
    clearInterval(this.#timer);
    await Promise.resolve();
  });

  destroy(): void {
    clearInterval(this.#timer);
  }
}
