import { fileURLToPath } from 'node:url';
import type { ApiContext } from '../api/index.js';
import {
  managerDiagnostics,
  type DiagnosticsSources,
  type ManagerStatus,
} from '../core/status/index.js';
import type { Basis } from './basis.js';

/** What the API serves besides the configuration: the parts, and the manager's own reports. */
export type ApiParts = Omit<
  ApiContext,
  'logger' | 'diagnostics' | 'uiDir' | 'bodyTimeouts' | 'hstsMaxAgeSeconds' | 'health' | 'status'
> &
  Omit<DiagnosticsSources, 'logsDir' | 'secretKey' | 'config' | 'status'> & {
    status: Pick<ManagerStatus, 'health' | 'status'>;
  };

/** The API's context: the parts, the diagnostics made of them, the admin UI's files, limits. */
export function apiContext(
  { config, layout, secretKey, logger }: Basis,
  parts: ApiParts,
): ApiContext {
  const { status, ...served } = parts;
  return {
    ...served,
    logger,
    diagnostics: () =>
      managerDiagnostics({
        logsDir: layout.logs,
        secretKey,
        config,
        status: () => status.status(),
        instances: parts.instances,
        settings: parts.settings,
        appStore: parts.appStore,
        alarms: parts.alarms,
        events: parts.events,
        disk: parts.disk,
        certificates: parts.certificates,
      }),
    // Built beside the compiled manager: dist/ui/ next to dist/src/.
    uiDir: fileURLToPath(new URL('../../ui/', import.meta.url)),
    bodyTimeouts: {
      bodyMs: config.admin.bodyTimeoutSeconds * 1000,
      uploadIdleMs: config.admin.uploadIdleTimeoutSeconds * 1000,
    },
    hstsMaxAgeSeconds: config.https.hstsMaxAgeSeconds,
    health: () => status.health(),
    status: () => status.status(),
  };
}
