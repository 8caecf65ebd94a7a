/**
 * The API's types: what each route takes and answers. Clients (the CLI, the admin UI) import
 * them with `import type` only. The request bodies are derived from their contracts
 * (`contracts.ts`), where each is declared once.
 */
import type { RequestOf } from './contract.js';
import type {
  appConfigureBody,
  backupCreateBody,
  backupRestoreBody,
  backupScheduleBody,
  backupTargetBody,
  certificateBody,
  configExportBody,
  configImportBody,
  instanceCreateBody,
  instanceUpdateBody,
  instanceVacuumBody,
  monitorHistoryQuery,
  storeInstallBody,
  storeSourceBody,
  traceBody,
} from './contracts.js';
import type { AppLimitsStatus, AppStatus, AppSummary } from '../core/apps/index.js';
import type { DatabaseInfo } from '../core/database/index.js';
import type { ActiveAlarm, AlarmChange } from '../core/alarms/index.js';
import type { DiskReport } from '../core/disk/index.js';
import type { DrainResult, NodeState, NodeView, NodesReport } from '../core/nodes/index.js';
import type { ManagerEvent } from '../core/events/index.js';
import type { FrontAddress } from '../core/front/index.js';
import type {
  AdminLogin,
  InstanceUsage,
  InstanceView,
  PbxLink,
  VacuumProgress,
  VacuumResult,
} from '../core/instances/index.js';
import type {
  AppUsage,
  InstanceReadiness,
  MonitorHistory,
  MonitorSnapshot,
  NodeSample,
  PlatformTotals,
  PostgresUsage,
  Resolution,
  SeriesUnit,
  SystemSnapshot,
} from '../core/monitor/index.js';
import type {
  AlarmTargets,
  PlatformSettings,
  PlatformSettingsChange,
} from '../core/settings/index.js';
import type { ResourceLimits, SandboxInfo } from '../core/supervisor/index.js';
import type { CertificateStatus } from '../core/tls/index.js';
import type {
  BackupEntry,
  BackupProgress,
  BackupSchedule,
  BackupTarget,
  DumpCheck,
  TargetTest,
  VerifyReport,
} from '../core/backup/index.js';
import type {
  StoreProblem,
  StoreResult,
  StoreSource,
  UpdateCheck,
} from '../core/appstore/index.js';

export type {
  BackupEntry,
  BackupProgress,
  BackupSchedule,
  BackupTarget,
  DumpCheck,
  TargetTest,
  VerifyReport,
};
export type {
  AvailableUpdate,
  StoreAppView,
  StoreListing,
  StoreOperation,
  StoreProblem,
  StoreResult,
  StoreSource,
  StoreVersionView,
  UpdateCheck,
} from '../core/appstore/index.js';

export type { ConfigDocument, ImportResult, PlannedChange } from '../core/transfer/index.js';

/** `POST /config/export`. */
export type ConfigExportBody = RequestOf<typeof configExportBody>;

/** `POST /config/import`. */
export type ConfigImportBody = RequestOf<typeof configImportBody>;

/** `GET /store/sources`. */
export interface StoreSourceList {
  sources: StoreSource[];
}

/** `PUT /store/sources/:name`. */
export type StoreSourceBody = RequestOf<typeof storeSourceBody>;

/** `POST /store/apps/:id/install` and `/update`. */
export type StoreInstallBody = RequestOf<typeof storeInstallBody>;

/** `POST /store/update` (every app with a newer build). */
export interface StoreUpdateAllAnswer {
  results: { app: string; ok: boolean; result?: StoreResult; error?: StoreProblem }[];
}
export type {
  AppUsage,
  InstanceReadiness,
  MonitorHistory,
  MonitorSnapshot,
  NodeSample,
  PlatformTotals,
  PostgresUsage,
  Resolution,
  SeriesUnit,
};

export type {
  ActiveAlarm,
  AlarmChange,
  DiskReport,
  NodeState,
  NodeView,
  NodesReport,
  AppLimitsStatus,
  ResourceLimits,
  SandboxInfo,
  AppStatus,
  AppSummary,
  CertificateStatus,
  DatabaseInfo,
};
export type {
  AdminLogin,
  FrontAddress,
  InstanceUsage,
  InstanceView,
  PbxLink,
  VacuumProgress,
  VacuumResult,
  ManagerEvent,
  AlarmTargets,
  PlatformSettings,
  PlatformSettingsChange,
  SystemSnapshot,
};

/** `GET /health`: no secrets, no authentication. */
export interface HealthReport {
  status: 'ok' | 'starting' | 'degraded' | 'stopping';
  version: string;
  database: DatabaseInfo['state'];
}

/** `GET /status` (and `appvisor status --json`). */
export interface StatusReport {
  manager: {
    state: 'starting' | 'running' | 'stopping';
    version: string;
    pid: number;
    nodeId: string;
    /** The platform's cluster name (docs/cluster.md); null: a platform of one node. */
    cluster: string | null;
    startedAt: string;
    uptimeSeconds: number;
    dataDir: string;
    node: string;
    listen: FrontAddress[];
    /** Where the admin UI and API listen (their own origin). */
    admin: FrontAddress | null;
    schemaVersion: number;
  };
  database: DatabaseInfo;
  /** CPU, memory, load and disk of the data folder, now. */
  system: SystemSnapshot;
  /** Whether backups can dump: the pg_dump check made at start. */
  backup: DumpCheck;
  apps: AppSummary[];
  /** How the apps' resource limits are enforced, and the defaults (docs/apps.md, "Limits"). */
  limits: SandboxInfo & { defaults: ResourceLimits };
  alarms: ActiveAlarm[];
  /** Updates the last app store check found (`checkedAt` null: no check yet). */
  updates: UpdateCheck;
}

/** `GET /auth/session`. */
export interface SessionInfo {
  via: 'socket' | 'token' | 'cookie';
  expiresAt?: string;
}

/** `POST /auth/login`. */
export interface LoginAnswer {
  token: string;
  expiresAt: string;
}

/** `GET /apps`. */
export interface AppList {
  apps: AppSummary[];
}

/** `POST /apps/:id/start`, `/stop`, `/restart`. */
export interface AppActionAnswer {
  changed: boolean;
  status: AppStatus;
}

/** `PATCH /apps/:id`; null puts a value back to its default. */
export type AppConfigureBody = RequestOf<typeof appConfigureBody>;

/** `POST /nodes/:id/drain`: where each instance went, and those that could not go. */
export type DrainAnswer = DrainResult;

/** `GET /instances`. */
export interface InstanceList {
  instances: InstanceView[];
  /** On a cluster: the nodes that are up but did not answer (their instances are missing). */
  unanswered?: string[];
}

/** `POST /instances`. */
export type InstanceCreateBody = RequestOf<typeof instanceCreateBody>;

/** `PATCH /instances/:id`. */
export type InstanceUpdateBody = RequestOf<typeof instanceUpdateBody>;

/** `POST /instances/:id/vacuum`: `full` for VACUUM FULL and REINDEX; answers a {@link VacuumResult}. */
export type InstanceVacuumBody = RequestOf<typeof instanceVacuumBody>;

/** `POST /instances/:id/trace`: `+flag` turns a flag on, `-flag` off. */
export type TraceBody = RequestOf<typeof traceBody>;

/** `GET /backups`: newest first. */
/** An archive as `GET /backups` lists it: on a cluster, one of a folder names its node. */
export type ListedBackup = BackupEntry & { node?: string };

export interface BackupList {
  /** On a cluster each archive of a backup folder names the node that holds it (`node`). */
  backups: ListedBackup[];
  /** On a cluster: nodes whose backup folders could not be read (not up, or no answer). */
  unanswered?: string[];
}

/** `GET /backups/running`: the backups and restores under way, oldest first. */
export interface BackupsRunning {
  /** On a cluster every node's, each naming its node. */
  operations: (BackupProgress & { node?: string })[];
}

/** `POST /backups`: template and slots default to the schedule's. */
export type BackupCreateBody = RequestOf<typeof backupCreateBody>;

/** `POST /backups/restore`: exactly one of `into` (replace) and `as` (a new instance). */
export type BackupRestoreBody = RequestOf<typeof backupRestoreBody>;

/** `PUT /backups/schedule`: `cron: null` turns it off. */
export type BackupScheduleBody = RequestOf<typeof backupScheduleBody>;

/** `GET /backup-targets`: by name, never with their credentials. */
export interface BackupTargetList {
  targets: BackupTarget[];
}

/** `POST /backup-targets`: an S3 bucket or a WebDAV folder and its credentials. */
export type BackupTargetBody = RequestOf<typeof backupTargetBody>;

/** `PUT /admin/password`: the generated password when none was given. */
export interface PasswordAnswer {
  password?: string;
}

/** `PUT /cert`: a PEM bundle (leaf first) and its key. */
export type CertificateBody = RequestOf<typeof certificateBody>;

/** What a route answers when it only confirms. */
export interface OkAnswer {
  ok: true;
}

/** `GET /events`. */
export interface EventsReport {
  events: ManagerEvent[];
}

/** What every failed request answers (its shape is core/errors'). */
export type { ErrorBody } from '../core/errors/index.js';

/** `GET /alarms`: the active alarms, oldest first. */
export interface AlarmsReport {
  alarms: ActiveAlarm[];
}

/** `GET /alarms/history`: raises and clears, newest first. */
export interface AlarmHistoryReport {
  history: AlarmChange[];
}

/** `GET /monitor?scope=cluster`: every node's latest sample and the platform's totals. */
export interface PlatformMonitor {
  /** Each node, by id; `snapshot` absent when it is not up or did not answer. */
  nodes: NodeSample[];
  totals: PlatformTotals;
}

/** Query of `GET /monitor/history` (see `monitorHistoryQuery`). */
export type MonitorHistoryQuery = RequestOf<typeof monitorHistoryQuery>;
