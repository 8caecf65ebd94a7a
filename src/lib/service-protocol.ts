/**
 * The messages of the service protocol (docs/service-protocol.md), shared by the SDK (the
 * service's side) and the manager, and the checks that turn an untrusted incoming value into
 * one of them: {@link parseMessage} in the service, {@link parseServiceMessage} in the manager.
 * Hand-written and free of imports: the SDK bundles this file (scripts/bundle-sdk.mjs).
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

/**
 * What a service sends to the manager. `instance` is left out by lines, events and alarms of
 * the service as a whole.
 */
export type ServiceMessage =
  | { type: 'ready'; httpSocket: string | null; handoff: boolean }
  | { type: 'instance.ready'; id: string }
  | { type: 'instance.failed'; id: string; error: string }
  | { type: 'instance.stopped'; id: string }
  | { type: 'log'; instance?: string; flag: string | null; text: string }
  | { type: 'event'; instance?: string; kind: string; severity: Severity; text: string }
  | {
      type: 'alarm';
      instance?: string;
      code: string;
      severity: Severity;
      text: string;
      active: boolean;
    };

/** The service message of one type. */
export type ServiceMessageOf<T extends ServiceMessage['type']> = Extract<
  ServiceMessage,
  { type: T }
>;

/** The result of a parser here: a message, or why the value is not one. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

/** The result of {@link parseMessage}. */
export type ParseResult = Parsed<ManagerMessage>;

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
      return unknownType(type);
  }
}

function unknownType(type: unknown): { ok: false; reason: string } {
  const named = typeof type === 'string' ? JSON.stringify(type.slice(0, 60)) : typeof type;
  return { ok: false, reason: `a message of unknown type ${named}` };
}

/** An event kind or an alarm code a service may use: a short word. */
const shortName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The longest `flag` of a `log` line the manager keeps (longer is cut). */
export const maxFlagLength = 64;

/** The `error` of an `instance.failed` that names none. */
export const unnamedFailure = 'the service reported a failure';

/**
 * The instance a service message names: `id`, else `instance` (the manager takes either, for
 * any message); undefined when neither is a string. Whether it is an instance of the sender's
 * app is for the manager to check.
 */
function namedInstance(value: Record<string, unknown>): string | undefined {
  if (isText(value.id)) return value.id;
  return isText(value.instance) ? value.instance : undefined;
}

/** `{instance}` when the message names one, else nothing (the service as a whole). */
function about(value: Record<string, unknown>): { instance?: string } {
  const instance = namedInstance(value);
  return instance === undefined ? {} : { instance };
}

/**
 * The manager's side: turns a value a service sent into a message. A service is not trusted,
 * but it is not held to the letter either; what the manager has always made of a sloppy
 * message is made here, once:
 * - `ready`: `httpSocket` is the path named, else null; `handoff` only when `true`;
 * - the instance of any message is `id`, else `instance` (see {@link namedInstance});
 * - a text that is not a string is empty; an `instance.failed` without an error says
 *   {@link unnamedFailure}; a `log` flag is cut to {@link maxFlagLength}, else null;
 * - an unknown severity is `info` for an event and `warning` for an alarm; an event kind that
 *   is not a short word is `event`; an alarm is active unless `active` is `false`.
 * Refused (the manager ignores them): what is not an object, an unknown type, an
 * `instance.*` answer naming no instance, an alarm whose code is not a short word. Texts are
 * neither cut nor escaped here: where they are written decides that.
 */
export function parseServiceMessage(value: unknown): Parsed<ServiceMessage> {
  if (!isRecord(value)) return { ok: false, reason: 'a message that is not an object' };
  const type = value.type;
  const text = isText(value.text) ? value.text : '';
  switch (type) {
    case 'ready':
      return {
        ok: true,
        message: {
          type,
          httpSocket: isText(value.httpSocket) ? value.httpSocket : null,
          handoff: value.handoff === true,
        },
      };
    case 'instance.ready':
    case 'instance.stopped':
    case 'instance.failed': {
      const id = namedInstance(value);
      if (id === undefined) return { ok: false, reason: `${type}: id is not a string` };
      if (type !== 'instance.failed') return { ok: true, message: { type, id } };
      const error = isText(value.error) ? value.error : unnamedFailure;
      return { ok: true, message: { type, id, error } };
    }
    case 'log': {
      const flag = isText(value.flag) ? value.flag.slice(0, maxFlagLength) : null;
      return { ok: true, message: { type, ...about(value), flag, text } };
    }
    case 'event': {
      const kind = isText(value.kind) && shortName.test(value.kind) ? value.kind : 'event';
      const severity = isSeverity(value.severity) ? value.severity : 'info';
      return { ok: true, message: { type, ...about(value), kind, severity, text } };
    }
    case 'alarm': {
      const code = value.code;
      if (!isText(code) || !shortName.test(code)) {
        return { ok: false, reason: 'alarm: code is not a short word' };
      }
      const severity = isSeverity(value.severity) ? value.severity : 'warning';
      const active = value.active !== false;
      return { ok: true, message: { type, ...about(value), code, severity, text, active } };
    }
    default:
      return unknownType(type);
  }
}
