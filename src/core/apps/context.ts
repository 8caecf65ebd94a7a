import type { KeyedQueue } from '../../lib/keyed-queue.js';
import type { TypedEmitter } from '../../lib/typed-emitter.js';
import type { AppRecord, Catalog } from '../catalog/index.js';
import type { Journal } from '../store/index.js';
import type { AppUsers } from './app-users.js';
import type { AppServiceEvents, AppServiceOptions, AppStatus, LoadedApp } from './types.js';

/**
 * What the parts of the app service share (install, boot, the service channel, the loader):
 * built once by {@link AppService}, which is the only one to hand it out.
 */
export interface AppContext {
  readonly options: AppServiceOptions;
  readonly catalog: Catalog;
  readonly journal: Journal;
  /** The installed apps by id, while the manager runs. */
  readonly apps: Map<string, LoadedApp>;
  /** Serializes operations on one app; different apps proceed in parallel. */
  readonly queue: KeyedQueue;
  readonly users: AppUsers;
  readonly emitter: TypedEmitter<AppServiceEvents>;
  /** The file URL of the staged SDK bundle (APPVISOR_SDK), once staged. */
  sdkUrl(): string | undefined;
  /** The loaded app, or APP_NOT_FOUND. */
  get(id: string): LoadedApp;
  /** Loads (or reloads the settings and manifest of) an installed app. */
  load(record: AppRecord): Promise<LoadedApp>;
  statusOf(app: LoadedApp): Promise<AppStatus>;
  /** Asks a service to end cleanly, then stops it (TERM, then KILL after the grace time). */
  stopProcess(app: LoadedApp): Promise<{ changed: boolean }>;
}
