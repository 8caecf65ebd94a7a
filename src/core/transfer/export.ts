/** Writing the configuration file from what the platform has now. */
import { hostname } from 'node:os';
import type { InstanceView } from '../instances/index.js';
import {
  documentFormat,
  documentKind,
  withoutCredentials,
  type ConfigDocument,
  type SecretParts,
} from './document.js';
import type { TransferPorts } from './ports.js';
import { sealSecrets } from './secrets.js';

/** Options of {@link exportDocument}. */
export interface ExportOptions {
  /** Add the certificate, instance passwords and targets' credentials, encrypted with `passphrase`. */
  includeSecrets?: boolean;
  passphrase?: string;
}

/** The platform's configuration as a document; secrets only when asked, and then sealed. */
export async function exportDocument(
  ports: TransferPorts,
  options: ExportOptions = {},
  now = new Date(),
): Promise<ConfigDocument> {
  // Read first: on a cluster a node that does not answer fails the export before anything
  // else is read, rather than the file leaving out its instances.
  const views = await ports.instances.list();
  const settings = await ports.settings.get();
  const installed = await ports.appStore.installed();
  const apps = (await ports.apps.list()).map((app) => {
    const origin = installed.get(app.id);
    return {
      id: app.id,
      version: app.version,
      build: origin?.build ?? null,
      store: origin?.store ?? null,
      ...ports.apps.settingsOf(app.id),
    };
  });
  const instances = views.map((view) => ({
    id: view.id,
    app: view.app,
    ...(view.node === undefined ? {} : { node: view.node }),
    domain: view.domain,
    path: view.path,
    enabled: view.enabled,
    excludeFromBackup: view.excludeFromBackup,
    traceFlags: [...view.traceFlags].sort(),
  }));
  const { cron, template, slots, keep, verify, target } = ports.backups.schedule();
  const targets = await ports.backups.listTargets();
  const document: ConfigDocument = {
    kind: documentKind,
    format: documentFormat,
    exportedAt: now.toISOString(),
    source: settings.dnsName || settings.label || hostname(),
    platform: {
      label: settings.label,
      dnsName: settings.dnsName,
      alarmUrl: withoutCredentials(settings.alarmUrl),
      alarmEmail: settings.alarmEmail,
    },
    stores: (await ports.sources.list()).map(({ name, url, keys, allowUnsigned }) => ({
      name,
      url,
      keys: [...keys],
      allowUnsigned,
    })),
    apps,
    instances,
    backupSchedule: { cron, template, slots, keep, verify, target },
    backupTargets: targets.map(({ name, url, endpoint, region, pathStyle }) => ({
      name,
      url,
      endpoint,
      region,
      pathStyle,
    })),
  };
  if (options.includeSecrets) {
    const parts = await collectSecrets(ports, settings.alarmUrl, views);
    for (const target of targets) {
      if (!target.credentials) continue;
      parts.backupTargets ??= {};
      parts.backupTargets[target.name] = await ports.backups.targetCredentials(target.name);
    }
    document.secrets = { encrypted: await sealSecrets(parts, options.passphrase ?? '') };
  }
  return document;
}

async function collectSecrets(
  ports: TransferPorts,
  alarmUrl: string,
  views: readonly InstanceView[],
): Promise<SecretParts> {
  // Also a self-signed certificate: clients that trust it by its fingerprint keep trusting it.
  const parts: SecretParts = { certificate: ports.certificates.pair(), instancePasswords: {} };
  if (withoutCredentials(alarmUrl) !== alarmUrl) parts.alarmUrl = alarmUrl;
  for (const view of views) {
    const password = (await ports.instances.show(view.id, { reveal: true })).password;
    if (password !== undefined) parts.instancePasswords[view.id] = password;
  }
  return parts;
}
