/**
 * The messages of the service protocol (docs/service-protocol.md), as the service sees them,
 * and the checks that turn an untrusted incoming value into one of them.
 */

/** How an instance reaches its own PostgreSQL database. */
export interface DatabaseInfo {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** The same as a `postgres://` connection string. */
  url: string;
}

/** An instance as the manager describes it in `instance.start` and `instance.update`. */
export interface InstanceInfo {
  id: string;
  app: string;
  domain: string;
  /** The instance's web path, e.g. `/example.com/acme` (no trailing slash). */
  path: string;
  /** The instance password: the secret shared with PBX App objects. */
  password: string;
  enabled: boolean;
  traceFlags: string[];
  /** The instance's own writable folder, `appdata/<app>/<id>`. */
  dataDir: string;
  database: DatabaseInfo;
}

/** Severity of an event or an alarm. */
export type Severity = 'info' | 'warning' | 'error' | 'critical';

/** What the manager sends to a service. */
export type ManagerMessage =
  | { type: 'instance.start'; instance: InstanceInfo }
  | { type: 'instance.update'; instance: InstanceInfo }
  | { type: 'instance.stop'; id: string }
  | {
      /** A WebSocket connection handed over; the socket comes as the message's handle. */
      type: 'upgrade';
      instance: string;
      method: string;
      url: string;
      headers: Record<string, string | string[]>;
      /** Bytes the client sent after the request head, base64. */
      head: string;
    }
  | { type: 'shutdown' };

/** What a service sends to the manager. */
export type ServiceMessage =
  | { type: 'ready'; httpSocket: string | null; handoff: boolean }
  | { type: 'instance.ready'; id: string }
  | { type: 'instance.failed'; id: string; error: string }
  | { type: 'instance.stopped'; id: string }
  | { type: 'log'; instance: string; flag: string | null; text: string }
  | { type: 'event'; instance: string; kind: string; severity: Severity; text: string }
  | {
      type: 'alarm';
      instance: string;
      code: string;
      severity: Severity;
      text: string;
      active: boolean;
    };

/** The result of {@link parseMessage}: a message, or why the value is not one. */
export type ParseResult = { ok: true; message: ManagerMessage } | { ok: false; reason: string };

const severities: readonly string[] = ['info', 'warning', 'error', 'critical'];

/** Whether `value` is one of the four severities. */
export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && severities.includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: unknown): value is string {
  return typeof value === 'string';
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 200;
}

/**
 * Checks a database description; returns the first problem, or null. Extra keys are allowed
 * (a newer manager may say more), missing or mistyped ones are not.
 */
function databaseProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'database is not an object';
  for (const key of ['host', 'database', 'user', 'password', 'url'] as const) {
    if (!isText(value[key])) return `database.${key} is not a string`;
  }
  const port = value.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    return 'database.port is not a port number';
  }
  return null;
}

/** Checks an instance description and copies the known keys (so later mutation of the input cannot reach us). */
function parseInstance(value: unknown): InstanceInfo | string {
  if (!isRecord(value)) return 'instance is not an object';
  if (!isId(value.id)) return 'instance.id is not a non-empty string';
  for (const key of ['app', 'domain', 'path', 'password', 'dataDir'] as const) {
    if (!isText(value[key])) return `instance.${key} is not a string`;
  }
  if (typeof value.enabled !== 'boolean') return 'instance.enabled is not a boolean';
  const flags = value.traceFlags;
  if (!Array.isArray(flags) || !flags.every(isText)) {
    return 'instance.traceFlags is not a list of strings';
  }
  const problem = databaseProblem(value.database);
  if (problem !== null) return `instance.${problem}`;
  const db = value.database as Record<string, unknown>;
  return {
    id: value.id,
    app: value.app as string,
    domain: value.domain as string,
    path: value.path as string,
    password: value.password as string,
    enabled: value.enabled,
    traceFlags: [...flags],
    dataDir: value.dataDir as string,
    database: {
      host: db.host as string,
      port: db.port as number,
      database: db.database as string,
      user: db.user as string,
      password: db.password as string,
      url: db.url as string,
    },
  };
}

/**
 * Turns a value received on the channel into a message. Anything else — not an object, an
 * unknown type, a missing or mistyped field — is refused with a reason that names no secret.
 */
export function parseMessage(value: unknown): ParseResult {
  if (!isRecord(value)) return { ok: false, reason: 'a message that is not an object' };
  const type = value.type;
  switch (type) {
    case 'instance.start':
    case 'instance.update': {
      const instance = parseInstance(value.instance);
      if (typeof instance === 'string') return { ok: false, reason: `${type}: ${instance}` };
      return { ok: true, message: { type, instance } };
    }
    case 'instance.stop':
      if (!isId(value.id))
        return { ok: false, reason: 'instance.stop: id is not a non-empty string' };
      return { ok: true, message: { type, id: value.id } };
    case 'upgrade': {
      const { instance, method, url, headers, head } = value;
      if (
        !isId(instance) ||
        typeof method !== 'string' ||
        typeof url !== 'string' ||
        !isRecord(headers) ||
        typeof head !== 'string'
      ) {
        return { ok: false, reason: 'upgrade: instance, method, url, headers or head missing' };
      }
      return {
        ok: true,
        message: {
          type,
          instance,
          method,
          url,
          headers: headers as Record<string, string | string[]>,
          head,
        },
      };
    }
    case 'shutdown':
      return { ok: true, message: { type } };
    default:
      return {
        ok: false,
        reason: `a message of unknown type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 60)) : typeof type}`,
      };
  }
}
