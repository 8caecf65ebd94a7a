import type { AppStatus } from '../apps/index.js';
import type { OperationPhase } from './operation-machine.js';
import type { TrustedSource } from './sources.js';
import type { IndexApp, IndexVersion } from './store-index.js';

/** A version as the app store lists it. */
export interface StoreVersionView {
  version: string;
  build: number;
  label: string;
  size: number;
  /** Whether its signature is one of the store's trusted keys'. */
  signed: boolean;
}

/** What is installed of an app. */
export interface InstalledView {
  version: string | null;
  /** app.json's build, or the build the app store installed; null when unknown. */
  build: number | null;
  /** The app store it was installed from, when it was. */
  store: string | null;
}

/** An app as the app stores offer it. */
export interface StoreAppView {
  id: string;
  title: string;
  description: string;
  /** The first configured store that lists it. */
  store: string;
  /** Newest (highest build) first. */
  versions: StoreVersionView[];
  latest: StoreVersionView;
  installed: InstalledView | null;
  /** Installed, and the store has a higher build. */
  updateAvailable: boolean;
}

/** A store that could not be read. */
export interface StoreProblem {
  store: string;
  code: string;
  message: string;
}

/** `GET /store/apps`. */
export interface StoreListing {
  apps: StoreAppView[];
  errors: StoreProblem[];
}

/** An update the last check found. */
export interface AvailableUpdate {
  app: string;
  store: string;
  installed: InstalledView;
  available: StoreVersionView;
}

/** The result of the last update check. */
export interface UpdateCheck {
  checkedAt: string | null;
  updates: AvailableUpdate[];
  errors: StoreProblem[];
}

/** An install or update under way (or just finished): what the UI shows as progress. */
export interface StoreOperation {
  app: string;
  action: 'install' | 'update';
  version: string;
  build: number;
  phase: OperationPhase;
  /** Bytes of the package downloaded so far, and its size. */
  received: number;
  total: number;
  startedAt: string;
  finishedAt: string | null;
  /** Set when it failed; `rolledBack` when the previous version was put back. */
  error: { code: string; message: string } | null;
  rolledBack: boolean;
}

/** The answer of an install or update. */
export interface StoreResult {
  app: string;
  /** False when nothing had to change (already at that build). */
  changed: boolean;
  from: { version: string | null; build: number | null } | null;
  to: { version: string; build: number };
  status: AppStatus;
}

/** A version of an app, found in a store that is trusted to offer it. */
export interface Resolved {
  source: TrustedSource;
  app: IndexApp;
  version: IndexVersion;
}

/**
 * What a guarded install of a package file puts in place: no store, so nothing is recorded in
 * store_installs (a file install leaves the app pinned to no store, as an unguarded one).
 */
export interface FileTarget {
  app: string;
  store: null;
  version: string | null;
  build: number | null;
}

/** What an update puts in place: a store's version, or a package file's. */
export type UpdateTarget = InstallRecord | FileTarget;

/** What store_installs keeps of an app installed from a store. */
export interface InstallRecord {
  app: string;
  store: string;
  version: string;
  build: number;
  sha256: string;
  /** The trusted key that signed the package; null: unsigned. */
  key: string | null;
}
