/**
 * The request shape of every API route that takes params, a query or a body, written once.
 * The routes give {@link Contract.schema} to Fastify and type their handlers with
 * {@link RouteOf}; `types.ts` exports the bodies' types to the clients. Every object is
 * closed (`z.strictObject`): an unknown field is a 400 naming it (see `schemas.ts`).
 */
import { z } from 'zod';
import { resolutions, type Resolution } from '../core/monitor/index.js';
import { contract, idParams, integer, secret, text } from './contract.js';

const nameParams = z.strictObject({ name: text(100) });
const passphrase = secret(1024, 1);

/** A route whose only input is `:id` (an app, an instance, a store's app, a node). */
export const idContract = contract({ params: idParams });

// Status and events.

export const eventsContract = contract({
  querystring: z.strictObject({
    limit: integer(1, 1000).default(100),
    follow: z.boolean().default(false),
  }),
});

// Login and the admin password.

export const loginBody = z.strictObject({ password: secret(1024, 1) });
export const loginContract = contract({ body: loginBody });

export const passwordBody = z.strictObject({
  // The length rule is the core's (PASSWORD_WEAK); the schema only bounds the size.
  password: secret(1024).optional(),
  current: secret(1024).optional(),
});
export const passwordContract = contract({ body: passwordBody });

// Apps.

export const appUploadContract = contract({
  querystring: z.strictObject({
    id: text(200).optional(),
    // Absent: a new app is off, a re-install keeps the app's setting.
    autostart: z.boolean().optional(),
    purge: z.boolean().default(false),
  }),
});

export const appUninstallContract = contract({
  params: idParams,
  querystring: z.strictObject({ force: z.boolean().optional() }),
});

export const appActionContract = contract({
  params: z.strictObject({ id: text(200), action: z.enum(['start', 'stop', 'restart']) }),
});

/** `PATCH /apps/:id`; null puts a value back to its default. */
export const appConfigureBody = z.strictObject({
  autostart: z.boolean().optional(),
  logMaxBytes: integer(65536).nullable().optional(),
  logFiles: integer(1, 100).nullable().optional(),
  /** Memory cap of all the app's processes together, at least 16 MiB. */
  memoryMaxBytes: integer(16 * 1024 * 1024)
    .nullable()
    .optional(),
  /** CPU weight, 1 to 10000 (100: the same as every other app). */
  cpuWeight: integer(1, 10_000).nullable().optional(),
  /** Processes and threads at once, 16 to 4194304. */
  pidsMax: integer(16, 4_194_304).nullable().optional(),
});
export const appConfigureContract = contract({ params: idParams, body: appConfigureBody });

export const appLogsContract = contract({
  params: idParams,
  querystring: z.strictObject({
    lines: integer(0, 100_000).default(100),
    follow: z.boolean().default(false),
  }),
});

// Instances.

/** `sort`: `id` (the default) or `size` (database and files together, largest first). */
export const instanceListContract = contract({
  querystring: z.strictObject({
    app: text(200).optional(),
    sort: z.enum(['id', 'size']).optional(),
    /** On a cluster: this node's instances only (the others are not asked). */
    local: z.boolean().optional(),
  }),
});

export const instanceCreateBody = z.strictObject({
  app: text(200),
  id: text(200),
  domain: text(300).optional(),
  path: text(600).optional(),
  password: secret(300).optional(),
  /** On a cluster: the node to own it; placement chooses when absent. */
  node: text(200).optional(),
});
export const instanceCreateContract = contract({ body: instanceCreateBody });

/** `POST /instances/:id/move`: the node to own it. */
export const instanceMoveContract = contract({
  params: idParams,
  body: z.strictObject({ node: text(200) }),
});

export const instanceShowContract = contract({
  params: idParams,
  querystring: z.strictObject({ reveal: z.boolean().optional() }),
});

export const instanceUpdateBody = z.strictObject({
  domain: text(300).optional(),
  path: text(600).optional(),
  password: secret(300).optional(),
  enabled: z.boolean().optional(),
  excludeFromBackup: z.boolean().optional(),
  /** true: a new generated password for the instance's database role (never shown). */
  rotateDbPassword: z.boolean().optional(),
});
export const instanceUpdateContract = contract({ params: idParams, body: instanceUpdateBody });

/** `+flag` turns a flag on, `-flag` off. */
export const traceBody = z.strictObject({ changes: z.array(text(64)).max(64) });
export const traceContract = contract({ params: idParams, body: traceBody });

/** `full`: VACUUM FULL and REINDEX DATABASE instead of VACUUM (ANALYZE). */
export const instanceVacuumBody = z.strictObject({ full: z.boolean().optional() });
export const instanceVacuumContract = contract({ params: idParams, body: instanceVacuumBody });

export const instanceLoginContract = contract({
  params: idParams,
  body: z.strictObject({ challenge: text(64) }),
});

/** `POST /grants/exchange`: a grant this node issued, traded for a login (see the route). */
export const grantExchangeContract = contract({
  body: z.strictObject({ token: text(200), challenge: text(64) }),
});

// The certificate.

/** A PEM bundle (leaf first) and its key. */
export const certificateBody = z.strictObject({
  cert: secret(256 * 1024),
  key: secret(64 * 1024),
});
export const certificateContract = contract({ body: certificateBody });

// Platform settings.

export const settingsBody = z.strictObject({
  // The rules are the core's (SETTING_INVALID); the schema only bounds the size.
  label: z.string().max(1024).optional(),
  dnsName: z.string().max(1024).optional(),
  alarmUrl: z.string().max(4096).optional(),
  alarmEmail: z.string().max(4096).optional(),
});
export const settingsContract = contract({ body: settingsBody });

// The configuration file.

/** `POST /config/export`: secrets only with a passphrase to seal them (8 characters or more). */
export const configExportBody = z.strictObject({
  includeSecrets: z.boolean().default(false),
  passphrase: passphrase.optional(),
});
export const configExportContract = contract({ body: configExportBody.optional() });

/** `POST /config/import`: the file's text as it was read (so errors can name its lines). */
export const configImportBody = z.strictObject({
  file: z.string().max(16 * 1024 * 1024),
  passphrase: passphrase.optional(),
  dryRun: z.boolean().default(false),
});
export const configImportContract = contract({ body: configImportBody });

// Backups.

/** A remote target's name, as `target add` checks it (TARGET_INVALID). */
const targetName = text(64);

export const backupListContract = contract({
  querystring: z.strictObject({
    instance: text(200).optional(),
    target: targetName.optional(),
    /** On a cluster: this node's backup folder only (the others are not asked). */
    local: z.boolean().optional(),
  }),
});

/** `GET /backups/running`. */
export const backupRunningContract = contract({
  querystring: z.strictObject({
    /** On a cluster: this node's only. */
    local: z.boolean().optional(),
  }),
});

/** Template and slots default to the schedule's. */
export const backupCreateBody = z.strictObject({
  instance: text(200),
  template: text(500).optional(),
  slots: integer(1, 1000).optional(),
  passphrase: passphrase.optional(),
  /** Restore the new archive into a scratch database and check it (`BACKUP_UNVERIFIED`). */
  verify: z.boolean().optional(),
  /** A remote target the archive streams to, instead of the backup folder. */
  target: targetName.optional(),
});
export const backupCreateContract = contract({ body: backupCreateBody });

/** Exactly one of `into` (replace) and `as` (a new instance). */
export const backupRestoreBody = z.strictObject({
  archive: text(4096),
  into: text(200).optional(),
  as: text(200).optional(),
  passphrase: passphrase.optional(),
  /** The remote target holding `archive` (then a key there). */
  target: targetName.optional(),
  /**
   * On a cluster: the node whose backup folder (or disk, for an absolute path) holds `archive`
   * (default: the node asked); as `backup list` names it.
   */
  node: text(200).optional(),
});
export const backupRestoreContract = contract({ body: backupRestoreBody });

/** `cron: null` turns it off. */
export const backupScheduleBody = z.strictObject({
  cron: text(200).nullable().optional(),
  template: text(500).optional(),
  slots: integer(1, 1000).optional(),
  /** Without `#bn`: archives kept per instance (0 keeps all). */
  keep: integer(0, 10000).optional(),
  /** Verify each scheduled backup (a test restore into a scratch database). */
  verify: z.boolean().optional(),
  /** The remote target scheduled backups go to; null for the backup folder. */
  target: targetName.nullable().optional(),
});
export const backupScheduleContract = contract({ body: backupScheduleBody });

/**
 * `GET` (download) and `PUT` (upload) `/backups/files/<name>`: the archive's name as list shows
 * it, slashes and all (the core refuses names no archive has).
 */
export const backupFileContract = contract({
  params: z.strictObject({ '*': text(4096) }),
});

/** `POST /backup-targets`: S3 (`s3://bucket/prefix`) or WebDAV (`https://host/folder`). */
export const backupTargetBody = z.strictObject({
  name: targetName,
  url: text(2048),
  endpoint: text(2048).optional(),
  region: text(64).optional(),
  pathStyle: z.boolean().optional(),
  accessKey: secret(1024, 1).optional(),
  secretKey: secret(1024, 1).optional(),
  user: text(256).optional(),
  password: secret(1024).optional(),
});
export const backupTargetContract = contract({ body: backupTargetBody });
export const backupTargetNameContract = contract({ params: nameParams });

// Alarms and monitoring.

export const alarmHistoryContract = contract({
  querystring: z.strictObject({ limit: integer(1, 10000).default(100) }),
});

/**
 * `GET /metrics` and `GET /monitor`: `scope=cluster` (on a cluster) answers every node's values
 * and the platform's totals; `node` (the default) this node's.
 */
export const monitorScopeContract = contract({
  querystring: z.strictObject({ scope: z.enum(['node', 'cluster']).default('node') }),
});

const resolutionNames = Object.keys(resolutions) as [Resolution, ...Resolution[]];

/**
 * `series`: comma-separated names (`machine.cpu`, `app.<id>.rss`, ...; all when absent).
 * `from`/`to`: epoch ms or an ISO date (default: the whole history). `resolution`: bucket
 * size, `raw` for one point per sample (default `1m`).
 */
export const monitorHistoryQuery = z.strictObject({
  series: text(4096).optional(),
  from: text(64).optional(),
  to: text(64).optional(),
  resolution: z.enum(resolutionNames).optional(),
});
export const monitorHistoryContract = contract({ querystring: monitorHistoryQuery });

// App stores.

export const storeSourceBody = z.strictObject({
  url: text(2000),
  keys: z.array(secret(2000)).max(20).optional(),
  allowUnsigned: z.boolean().optional(),
});
export const storeSourceContract = contract({ params: nameParams, body: storeSourceBody });
/** A route whose only input is `:name` (an app store). */
export const nameContract = contract({ params: nameParams });

export const storeInstallBody = z.strictObject({
  /** A version or a build number; default: the newest build. */
  version: text(64).optional(),
  /** Only this store. */
  store: text(100).optional(),
  autostart: z.boolean().optional(),
  /** Install an older build, or the same build again. */
  force: z.boolean().optional(),
  /**
   * Confirms replacing an installed app from another store (or signed by another key) than
   * the one it was installed from, or one installed from a package file (APPSTORE_PINNED).
   */
  switchStore: z.boolean().optional(),
});
/** Install and update: the body may be left out. */
export const storeInstallContract = contract({
  params: idParams,
  body: storeInstallBody.optional(),
});

export const storeUpdateAllContract = contract({
  body: z.strictObject({ force: z.boolean().optional() }).optional(),
});
