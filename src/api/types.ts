import type { AppStatus, AppSummary } from '../core/apps/index.js';

export type { AppStatus, AppSummary };
import type { ActiveAlarm, ManagerEvent } from '../core/events/index.js';
import type { AdminLogin, InstanceView } from '../core/instances/index.js';
import type { CertificateStatus } from '../core/tls/index.js';

export type { CertificateStatus };

export type { AdminLogin, InstanceView };
import type { DatabaseInfo } from '../core/database/index.js';
import type { FrontAddress } from '../core/front/index.js';

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
    startedAt: string;
    uptimeSeconds: number;
    dataDir: string;
    node: string;
    listen: FrontAddress[];
    schemaVersion: number;
  };
  database: DatabaseInfo;
  apps: AppSummary[];
  alarms: ActiveAlarm[];
}

/** `GET /events`. */
export interface EventsReport {
  events: ManagerEvent[];
}

/** What every failed request answers. */
export interface ErrorBody {
  code: string;
  message: string;
}
