import type { Socket } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import type { Pause } from '../../lib/pause-points.js';
import type { ManagerMessage, ServiceMessage } from '../../lib/service-protocol.js';
import type { AlarmRaiser } from '../alarms/index.js';
import type { AppRecord, Manifest, PackageLimits } from '../catalog/index.js';
import type { EventLog } from '../events/index.js';
import type { AppLog, LogLimits } from '../logs/index.js';
import type { Store } from '../store/index.js';
import type {
  AppState,
  AppSupervisor,
  Clock,
  Enforcement,
  Launcher,
  ResourceLimits,
  Sandbox,
  SupervisorStatus,
} from '../supervisor/index.js';
import type { MessageLimiter, ServiceLimits } from './service-limits.js';

/** `status(id)` of specs/app-container.md: the supervisor's view plus the app's settings. */
export interface AppStatus extends SupervisorStatus {
  id: string;
  version: string | null;
  /** app.json's `build`: orders versions in an app store. */
  build: number | null;
  title: string | null;
  runnable: boolean;
  autostart: boolean;
  /** Whether it is a service hosting instances. */
  instances: boolean;
  /** Where the service serves HTTP while it runs (services only). */
  httpSocket: string | null;
  log: LogLimits;
  limits: AppLimitsStatus;
}

/** An app's resource limits as status shows them, and how they are enforced. */
export interface AppLimitsStatus extends ResourceLimits {
  enforcement: Enforcement;
  /** Times the kernel killed a process of the app for its memory cap (since the manager started). */
  memoryKills: number;
}

/** Options of {@link AppService.install}. */
export interface InstallOptions {
  /** The package's folder must carry this name. */
  id?: string;
  /**
   * Start the app with the manager. Not given: off for a new app, kept by a re-install. A
   * re-install brings the app back to the state it was in (running again if it ran); `true`
   * starts it in any case, as on a first install.
   */
  autostart?: boolean;
  /** Empty the app's data folder (instance folders excepted). */
  purge?: boolean;
  /** What app.json must say (an app store's index entry); PACKAGE_INVALID otherwise. */
  expect?: { version: string; build: number };
  /** The caller has backed the instances up already (an app store update). */
  skipUpdateHook?: boolean;
}

/** `list()` of specs/app-container.md. */
export interface AppSummary {
  id: string;
  version: string | null;
  autostart: boolean;
  runnable: boolean;
  state: AppState;
}

/** What the app service passes up of a service's messages (`service.message`). */
export type ForwardedServiceMessage = Exclude<ServiceMessage, { type: 'ready' | 'log' }>;

/** Sends messages to a running service process (the protocol of docs/service-protocol.md). */
export interface ServiceChannel {
  send(message: ManagerMessage): boolean;
  /** Sends a message with a socket; the socket is closed here once it is on its way. */
  sendSocket(message: object, socket: Socket): boolean;
}

/**
 * What the app service asks of the instances subsystem, which is built after it and sits above
 * it: given to the constructor as a function, asked for when needed.
 */
export interface AppInstances {
  /** Ids of the app's instances (their folders survive a purge; they block an uninstall). */
  instanceIds(app: string): Promise<string[]>;
  /** Deletes every instance of the app (uninstall --force). */
  removeAll(app: string): Promise<void>;
  /**
   * The app an instance belongs to, if it exists: a service's log line is filed under an
   * instance only when the instance is the service's own.
   */
  appOf(instance: string): string | undefined;
}

/** What runs before an installed app is replaced by another version (the backups subsystem). */
export interface UpdateGuard {
  /** Backs the app's instances up; if it throws, the install is refused and nothing changes. */
  beforeUpdate(app: string): Promise<void>;
}

/**
 * The events of the app service, by name, with their payloads: what the subsystems above it
 * (instances) learn of the service processes. Listeners run synchronously, in the order of the
 * process's messages.
 */
export interface AppServiceEvents {
  /** A service said `ready` on this channel: its instances may be started in it. */
  'service.ready': { app: string; channel: ServiceChannel };
  /**
   * A message of a service besides `ready` and `log` (`instance.*`, `event`, `alarm`), after the
   * app's rate limits, parsed (its fields have their types; whether the instance it names is
   * the app's own is not checked yet).
   */
  'service.message': { app: string; message: ForwardedServiceMessage };
  /** The service process that said `ready` has ended; its channel is closed. */
  'service.gone': { app: string };
  /** The app's supervisor told something (a state, a start, an end): its status may differ. */
  'app.changed': { app: string };
}

/** Options of {@link AppService}. */
export interface AppServiceOptions {
  store: Store;
  events: EventLog;
  /** Where alarms are raised and cleared. */
  alarms: AlarmRaiser;
  logger: Logger;
  nodeId: string;
  appsDir: string;
  appdataDir: string;
  logsDir: string;
  /** Run each app as its own system user (the manager is root). */
  isRoot: boolean;
  limits?: Partial<PackageLimits>;
  clock?: Clock;
  launcher?: Launcher;
  /** Environment every app gets besides its APPVISOR_* variables. */
  baseEnv?: Record<string, string>;
  /** Default stop grace time. */
  graceMs?: number;
  /** Largest package upload accepted. */
  maxPackageBytes?: number;
  /** `<data>/run`: services' HTTP sockets go below it. */
  runDir: string;
  /**
   * The bundled SDK (dist/sdk/appvisor-sdk.mjs). A copy goes to `<data>/run/sdk/`, where every
   * app user can read it, and services get its file URL as APPVISOR_SDK.
   */
  sdkBundle?: string;
  /** Node.js binary for `run` scripts (APPVISOR_NODE). */
  nodePath?: string;
  /** How long a service may take to send `ready`. */
  readyTimeoutMs?: number;
  /** What one service may send (config `services`). */
  serviceLimits?: ServiceLimits;
  /** Enforces each app's resource limits; none given: no limits are set. */
  sandbox?: Sandbox;
  /** Limits of an app that has none of its own. */
  resourceLimits?: ResourceLimits;
  /** Test-only pauses at named steps (config `testing.pauses`). */
  pause?: Pause;
  /** The instances of each app; none yet (undefined): no app has instances. */
  instances?: () => AppInstances | undefined;
  /** What runs before an app is replaced by another version; none yet: nothing runs. */
  updateGuard?: () => UpdateGuard | undefined;
}

/** An installed app as the app service holds it while the manager runs. */
export interface LoadedApp {
  record: AppRecord;
  manifest: Manifest;
  supervisor: AppSupervisor;
  log: AppLog;
  /** Rate limits of what the service sends. */
  limiter: MessageLimiter;
  /** The running process while it has an IPC channel (services only). */
  channel?: ServiceChannel | undefined;
  /** Where the service said it serves HTTP, while it runs. */
  httpSocket: string | null;
  /** Passes an accepted socket to the service, when it said it takes handoffs. */
  handoff?: ((message: object, socket: Socket) => void) | undefined;
  readyTimer?: NodeJS.Timeout | undefined;
  /** The memory group's OOM kill count when the process was started. */
  oomKillsAtStart: number;
  memoryKills: number;
  /** The writes of the process's pid to the store, in the order of spawns and exits. */
  pidWrites: Promise<void>;
}
