import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppService } from '../apps/index.js';
import { AppvisorError } from '../errors/index.js';
import { downloadPackage, type FetchLimits } from './download.js';
import type { OperationParts } from './operations.js';
import type { StoreReader } from './read.js';
import type { Resolved, StoreOperation, StoreResult } from './types.js';

/** Where and how packages are downloaded. */
export interface DownloadOptions {
  /** Where downloads are kept while an operation runs (`<data>/apps`). */
  workDir: string;
  fetch: FetchLimits;
  maxPackageBytes: number;
}

/**
 * Downloads the resolved package into the work folder, its progress into the operation;
 * the caller removes the file.
 */
export async function downloadResolved(
  resolved: Resolved,
  op: StoreOperation,
  options: DownloadOptions,
): Promise<string> {
  const { version } = resolved;
  if (version.size > options.maxPackageBytes) {
    throw new AppvisorError(
      'PACKAGE_INVALID',
      `${resolved.app.id} ${version.version} is ${version.size} bytes; at most ${options.maxPackageBytes} are accepted`,
    );
  }
  const file = join(options.workDir, `.appstore-${randomBytes(6).toString('hex')}`);
  await downloadPackage(version.url, file, version, options.fetch, (received) => {
    op.received = received;
  });
  return file;
}

/** The options of an install from the stores. */
export interface StoreInstallOptions {
  version?: string;
  store?: string;
  autostart?: boolean;
}

/** What {@link StoreInstaller} needs. */
export interface StoreInstallerOptions extends OperationParts {
  reader: StoreReader;
  apps: Pick<AppService, 'install' | 'status'>;
  download: DownloadOptions;
  /** Records what was installed from which store. */
  record: (resolved: Resolved) => Promise<void>;
}

/** Installs an app that is not installed yet from the stores. */
export class StoreInstaller {
  readonly #options: StoreInstallerOptions;

  constructor(options: StoreInstallerOptions) {
    this.#options = options;
  }

  /**
   * Installs the newest build of an app, or `version` (a version or a build number). The
   * caller checks the id and sends an app that is installed already to the update instead.
   */
  async install(id: string, options: StoreInstallOptions): Promise<StoreResult> {
    const { reader, queue } = this.#options;
    const resolved = await reader.resolve(id, options, null);
    reader.requireSigned(resolved);
    return queue.run(id, async () => {
      // Installed meanwhile (another install at once): that one did the work.
      const now = (await reader.installed()).get(id);
      if (now) {
        return {
          app: id,
          changed: false,
          from: null,
          to: { version: now.version ?? '', build: now.build ?? resolved.version.build },
          status: await this.#options.apps.status(id),
        };
      }
      return this.#install(id, resolved, options.autostart ?? false);
    });
  }

  async #install(id: string, resolved: Resolved, autostart: boolean): Promise<StoreResult> {
    const { operations, apps } = this.#options;
    const { version } = resolved;
    const op = operations.begin('install', id, version);
    let file: string | undefined;
    try {
      file = await downloadResolved(resolved, op, this.#options.download);
      operations.advance(op, 'install');
      const status = await apps.install(file, {
        id,
        autostart,
        expect: { version: version.version, build: version.build },
      });
      await this.#options.record(resolved);
      this.#options.events.record({
        kind: 'app.store-installed',
        severity: 'info',
        subject: id,
        text: `${id} ${version.version} (build ${version.build}) installed from app store ${resolved.source.name}`,
      });
      operations.finish(op);
      const to = { version: version.version, build: version.build };
      return { app: id, changed: true, from: null, to, status };
    } catch (error) {
      operations.finish(op, error);
      throw error;
    } finally {
      if (file) await rm(file, { force: true });
    }
  }
}
