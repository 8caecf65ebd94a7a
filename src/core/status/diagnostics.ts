import type { Readable } from 'node:stream';
import type { AlarmService } from '../alarms/index.js';
import type { AppStoreService } from '../appstore/index.js';
import type { Config } from '../config/index.js';
import { diagnosticsArchive } from '../diagnostics/index.js';
import type { DiskWatch } from '../disk/index.js';
import type { EventLog } from '../events/index.js';
import type { InstanceService } from '../instances/index.js';
import type { SettingsService } from '../settings/index.js';
import type { CertificateStore } from '../tls/index.js';

/** What goes into the diagnostics archive, and the secrets taken out of it. */
export interface DiagnosticsSources {
  logsDir: string;
  /** The data folder's secret key. */
  secretKey: Buffer;
  config: Config;
  /** The status report (`status.json`). */
  status: () => Promise<unknown>;
  instances: Pick<InstanceService, 'list' | 'secretsOf'>;
  settings: Pick<SettingsService, 'get'>;
  appStore: { sources: Pick<AppStoreService['sources'], 'list'> };
  alarms: Pick<AlarmService, 'active' | 'history'>;
  events: Pick<EventLog, 'list'>;
  disk: Pick<DiskWatch, 'report'>;
  certificates: Pick<CertificateStore, 'status'>;
}

/**
 * Every secret value the manager knows (the data folder's key in each text form, configured
 * passwords, each instance's credentials), so that the diagnostics can replace it anywhere.
 */
export function knownSecrets(
  sources: Pick<DiagnosticsSources, 'secretKey' | 'config' | 'instances'>,
): string[] {
  const { secretKey, config, instances } = sources;
  const found = [
    secretKey.toString('hex'),
    secretKey.toString('base64'),
    secretKey.toString('base64url'),
    config.alarms.smtp.password,
    config.admin.initialPassword ?? '',
  ];
  for (const instance of instances.list()) {
    try {
      found.push(...instances.secretsOf(instance.id));
    } catch {
      // deleted meanwhile
    }
  }
  return found.filter((secret) => secret !== '');
}

/** A document that could not be read says why instead of failing the archive. */
function orError<T>(reading: Promise<T>): Promise<T | { error: string }> {
  return reading.catch((error: unknown) => ({ error: (error as Error).message }));
}

/** The diagnostics archive (`GET /diagnostics`, `appvisor diagnostics`), secrets removed. */
export async function managerDiagnostics(sources: DiagnosticsSources): Promise<Readable> {
  const { instances, alarms, certificates } = sources;
  return diagnosticsArchive({
    logsDir: sources.logsDir,
    secrets: knownSecrets(sources),
    documents: {
      'status.json': await sources.status(),
      'instances.json': instances.list(),
      'settings.json': await orError(sources.settings.get()),
      'config.json': sources.config,
      'appstores.json': await orError(sources.appStore.sources.list()),
      'alarms.json': { active: alarms.active(), history: await alarms.history(10_000) },
      'events.json': await sources.events.list(1000),
      'disk.json': await sources.disk.report(),
      'certificate.json': certificates.status(),
    },
  });
}
