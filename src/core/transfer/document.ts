/**
 * The platform's configuration file (docs/configuration-file.md): what `config export` writes
 * and `config import` reads. One JSON document, meant to be read and edited by people (the
 * seed's way of renaming a platform is "export, search and replace, import"), so its keys are
 * words, its order is fixed, and every check of an import names the key and the line at fault.
 *
 * Secrets (the certificate's key, instance passwords, backup targets' credentials) are never
 * in the clear: with `--include-secrets` they travel in one block encrypted with a passphrase
 * (`secrets.ts`).
 */
import { z } from 'zod';
import type { BackupTarget, TargetCredentials, TargetInput } from '../backup/index.js';
import { AppvisorError } from '../errors/index.js';
import { lineOf } from './json-lines.js';

/** What the file says it is; a file of another kind is refused before anything else. */
export const documentKind = 'appvisor-config';

/** The version of the file's layout this manager writes and reads. */
export const documentFormat = 1;

/** One-line text: no control characters (C0, DEL, C1), as the API's names and paths. */
const plainPattern = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';
const plain = (max: number) => z.string().max(max).regex(new RegExp(plainPattern));
const int = (min: number, max: number) => z.int().min(min).max(max);

/** The platform's own settings (`settings show`). */
const platformShape = z.strictObject({
  label: plain(1024),
  dnsName: plain(1024),
  alarmUrl: plain(4096),
  alarmEmail: plain(4096),
});

/** An app store the platform installs from (`store sources`). */
const storeShape = z.strictObject({
  name: plain(40),
  url: plain(2000),
  keys: z.array(plain(2000)).max(20),
  allowUnsigned: z.boolean(),
});

/** An installed app: where it came from and its settings (`app configure`). null: the default. */
const appShape = z.strictObject({
  id: plain(64),
  version: plain(64).nullable(),
  build: z.int().nullable(),
  /** The store it was installed from; null: from a package file (not reinstallable). */
  store: plain(40).nullable(),
  autostart: z.boolean(),
  logMaxBytes: int(65_536, Number.MAX_SAFE_INTEGER).nullable(),
  logFiles: int(1, 100).nullable(),
  memoryMaxBytes: int(16 * 1024 * 1024, Number.MAX_SAFE_INTEGER).nullable(),
  cpuWeight: int(1, 10_000).nullable(),
  pidsMax: int(16, 4_194_304).nullable(),
});

/** An instance's settings (not its data: that is what backups are for). */
const instanceShape = z.strictObject({
  id: plain(64),
  app: plain(64),
  /**
   * On a cluster, the node that owns it (as exported) or should make it (as imported); absent
   * in the files of a platform of one node and of older managers.
   */
  node: plain(200).optional(),
  domain: plain(300),
  path: plain(600),
  enabled: z.boolean(),
  excludeFromBackup: z.boolean(),
  traceFlags: z.array(plain(64)).max(64),
});

/** The backup schedule (`backup schedule`). */
const scheduleShape = z.strictObject({
  cron: plain(200).nullable(),
  template: plain(500),
  slots: int(1, 1000),
  keep: int(0, 10_000),
  verify: z.boolean(),
  /** The backup target scheduled backups go to (null: the backup folder); absent: unchanged. */
  target: plain(64).nullable().optional(),
});

/**
 * A remote backup target (`backup target list`) without its credentials, which travel only in
 * the secrets block. endpoint, region and pathStyle are an s3:// target's (null for WebDAV).
 */
const targetShape = z.strictObject({
  name: plain(64),
  url: plain(2000),
  endpoint: plain(2000).nullable(),
  region: plain(40).nullable(),
  pathStyle: z.boolean().nullable(),
});

/** The encrypted block: the stream cipher's bytes (the same format as encrypted backups), base64. */
const secretsShape = z.strictObject({
  encrypted: z
    .string()
    .max(16 * 1024 * 1024)
    .regex(/^[A-Za-z0-9+/=\s]*$/),
});

const documentShape = z.strictObject({
  kind: z.literal(documentKind),
  format: z.literal(documentFormat),
  exportedAt: plain(64).optional(),
  /** The platform it came from (its label or host name), for the reader only. */
  source: plain(300).optional(),
  platform: platformShape,
  stores: z.array(storeShape).max(20),
  apps: z.array(appShape).max(1000),
  instances: z.array(instanceShape).max(100_000),
  backupSchedule: scheduleShape,
  /** Absent (a file of an older manager): the platform's targets are left as they are. */
  backupTargets: z.array(targetShape).max(100).optional(),
  secrets: secretsShape.optional(),
});

/** The configuration file, as read and as written. */
export type ConfigDocument = z.infer<typeof documentShape>;
export type PlatformPart = z.infer<typeof platformShape>;
export type StorePart = z.infer<typeof storeShape>;
export type AppPart = z.infer<typeof appShape>;
export type InstancePart = z.infer<typeof instanceShape>;
export type SchedulePart = z.infer<typeof scheduleShape>;
export type TargetPart = z.infer<typeof targetShape>;

/** A backup target's credentials, as `backup target add` takes them. */
export type TargetSecret = TargetCredentials;

/** What the encrypted block holds. */
export interface SecretParts {
  /** The front's certificate bundle and key. */
  certificate?: { cert: string; key: string };
  /** Instance passwords by instance id. */
  instancePasswords: Record<string, string>;
  /** The alarm URL with its `user:password@`, when it has one (the file shows it without). */
  alarmUrl?: string;
  /** Backup targets' credentials by target name (only targets that have them). */
  backupTargets?: Record<string, TargetSecret>;
}

/**
 * A URL without its `user:password@`: what the file shows of an alarm URL, whose credentials
 * are a secret. Anything that is not a URL is returned as it is.
 */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return url;
  }
}

/** What `putTarget` (and `target add`'s checks) take for a target's settings and credentials. */
export function targetInput(
  target: TargetPart | BackupTarget,
  credentials: TargetSecret,
): TargetInput {
  const { name, url, endpoint, region, pathStyle } = target;
  return {
    name,
    url,
    ...(endpoint === null ? {} : { endpoint }),
    ...(region === null ? {} : { region }),
    ...(pathStyle === null ? {} : { pathStyle }),
    ...credentials,
  };
}

/** Largest configuration file read, in bytes. */
export const maxDocumentBytes = 16 * 1024 * 1024;

/** A JSON path (`instances[2].domain`) from zod's path. */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(the whole file)';
}

/** IMPORT_INVALID naming the key (as `field`) and, when it can be found, the line. */
export function invalidAt(
  text: string | undefined,
  path: readonly PropertyKey[],
  message: string,
): AppvisorError {
  const key = keyPath(path);
  const line = text === undefined ? undefined : lineOf(text, path);
  const where = line === undefined ? key : `${key} (line ${line})`;
  return new AppvisorError('IMPORT_INVALID', `${where}: ${message}`, { field: key });
}

/** The first problem of a zod result, worded for a person editing the file. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (issue.code === 'invalid_value' && issue.path[0] === 'kind') {
    return `this is not an appvisor configuration file (kind must be "${documentKind}")`;
  }
  if (issue.code === 'invalid_value' && issue.path[0] === 'format') {
    return `format ${documentFormat} is the one this manager reads`;
  }
  return issue.message;
}

/**
 * Reads a configuration file's text: JSON first (a syntax error names its line), then the
 * shape (an error names the key and its line). Nothing is looked up on the platform here.
 */
export function parseDocument(text: string): ConfigDocument {
  if (Buffer.byteLength(text) > maxDocumentBytes) {
    throw new AppvisorError(
      'IMPORT_INVALID',
      `the file is larger than ${maxDocumentBytes / 1024 / 1024} MiB`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const line =
      position === null ? '' : ` (line ${text.slice(0, Number(position[1])).split('\n').length})`;
    throw new AppvisorError('IMPORT_INVALID', `the file is not JSON${line}: ${message}`);
  }
  const result = documentShape.safeParse(value);
  if (!result.success) {
    // An unknown key is most often a misspelt known one: say that rather than "missing".
    const { issues } = result.error;
    const issue = issues.find((item) => item.code === 'unrecognized_keys') ?? issues[0]!;
    // An unknown key is pointed at itself, not at the object holding it.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    throw invalidAt(text, path, describeIssue(issue));
  }
  return result.data;
}

/** The file's text: two-space JSON with a final newline, keys in the order they were made. */
export function renderDocument(document: ConfigDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
