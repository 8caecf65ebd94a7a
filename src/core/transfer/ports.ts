/**
 * What a configuration export and import use of the other subsystems: narrow views, so the
 * composition root passes the real services and the unit tests pass fakes.
 */
import type { AppService } from '../apps/index.js';
import type { AppStoreService, StoreSources } from '../appstore/index.js';
import type { BackupService } from '../backup/index.js';
import type { InstanceService } from '../instances/index.js';
import type { SettingsService } from '../settings/index.js';
import type { CertificateStore } from '../tls/index.js';

/** The services a transfer reads and changes. */
export interface TransferPorts {
  settings: Pick<SettingsService, 'get' | 'update'>;
  certificates: Pick<CertificateStore, 'status' | 'pair' | 'set'>;
  sources: Pick<StoreSources, 'list' | 'put' | 'remove'>;
  appStore: Pick<AppStoreService, 'install' | 'installed'>;
  apps: Pick<AppService, 'list' | 'settingsOf' | 'configure' | 'uninstall' | 'hostsInstances'>;
  instances: Pick<InstanceService, 'list' | 'show' | 'create' | 'set' | 'trace' | 'delete'>;
  backups: Pick<
    BackupService,
    'schedule' | 'setSchedule' | 'listTargets' | 'putTarget' | 'removeTarget' | 'targetCredentials'
  >;
}
