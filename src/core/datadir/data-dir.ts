import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { once, type Component } from '../../lib/lifecycle.js';
import { commandLine, isAlive } from '../../lib/processes.js';
import { AppvisorError } from '../errors/index.js';
import { dataLayout, type DataLayout } from './layout.js';

/**
 * Folder modes. The root and the folders that service users and the database user must pass
 * through are 0711 (traverse, no listing); what holds secrets is owner-only.
 */
const folders: [keyof DataLayout, number][] = [
  ['root', 0o711],
  ['apps', 0o755],
  ['appdata', 0o711],
  ['logs', 0o750],
  ['backups', 0o700],
  ['tls', 0o700],
  ['run', 0o711],
];

function unusable(path: string, error: unknown): AppvisorError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOTDIR'
      ? 'a part of the path is a file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'read-only file system'
          : code === 'ENOSPC'
            ? 'no space left on the device'
            : (error as Error).message;
  return new AppvisorError('DATA_DIR_UNUSABLE', `data folder ${path} cannot be used: ${reason}`, {
    cause: error,
  });
}

/**
 * The data folder: creates its layout with tight modes, proves it writable, and holds the
 * manager lock (`manager.pid`) so that two managers never share one folder. A lock left by a
 * manager that died is taken over.
 */
export class DataDir implements Component {
  readonly name = 'data-dir';
  readonly layout: DataLayout;
  #nodeId = '';
  #secretKey: Buffer = Buffer.alloc(0);
  #locked = false;

  constructor(root: string) {
    this.layout = dataLayout(root);
  }

  /** This node's id, made at the first start and kept in the data folder. */
  get nodeId(): string {
    return this.#nodeId;
  }

  async start(): Promise<void> {
    const { layout } = this;
    try {
      for (const [key, mode] of folders) {
        await mkdir(layout[key], { recursive: true, mode });
        await chmod(layout[key], mode);
      }
      const probe = join(layout.root, `.probe-${process.pid}`);
      await writeFile(probe, 'ok');
      await unlink(probe);
    } catch (error) {
      throw unusable(layout.root, error);
    }
    await this.#lock();
    this.#nodeId = await this.#readNodeId();
    this.#secretKey = await this.#readSecretKey();
  }

  /** The key that encrypts secrets at rest (`secret.key`, 0600, made at the first start). */
  get secretKey(): Buffer {
    return this.#secretKey;
  }

  async #readSecretKey(): Promise<Buffer> {
    const { secretKeyFile } = this.layout;
    const existing = (await readFile(secretKeyFile, 'utf8').catch(() => '')).trim();
    if (existing) {
      const key = Buffer.from(existing, 'base64');
      if (key.length !== 32) {
        throw new AppvisorError(
          'DATA_DIR_UNUSABLE',
          `${secretKeyFile} is damaged: it must hold 32 bytes in base64`,
        );
      }
      await chmod(secretKeyFile, 0o600);
      return key;
    }
    const key = randomBytes(32);
    await writeFileAtomic(secretKeyFile, `${key.toString('base64')}\n`, 0o600);
    return key;
  }

  async #lock(): Promise<void> {
    const { pidFile } = this.layout;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(pidFile, 'wx', 0o644);
        await handle.writeFile(`${process.pid}\n`);
        await handle.sync();
        await handle.close();
        this.#locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
          throw unusable(this.layout.root, error);
      }
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && isAlive(pid)) {
        const argv = await commandLine(pid);
        if (argv?.[0]?.includes('node')) {
          throw new AppvisorError(
            'ALREADY_RUNNING',
            `another manager (pid ${pid}) is running on ${this.layout.root}`,
          );
        }
      }
      // The manager that wrote it is gone: take the lock over.
      await unlink(pidFile).catch(() => undefined);
    }
    throw new AppvisorError('ALREADY_RUNNING', `cannot take the lock ${pidFile}`);
  }

  async #readNodeId(): Promise<string> {
    const { nodeIdFile } = this.layout;
    const existing = (await readFile(nodeIdFile, 'utf8').catch(() => '')).trim();
    if (existing) return existing;
    const id = randomUUID();
    await writeFileAtomic(nodeIdFile, `${id}\n`, 0o644);
    return id;
  }

  readonly close = once(async () => {
    if (!this.#locked) return;
    this.#locked = false;
    await unlink(this.layout.pidFile).catch(() => undefined);
  });

  destroy(): void {
    // The lock file is left: the next start sees its pid is gone and takes it over.
  }
}
