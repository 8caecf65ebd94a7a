/** One code of the catalog: its HTTP status, its default message, the other statuses it may have. */
export interface CatalogEntry {
  status: number;
  text: string;
  /**
   * Statuses other than `status` an error of this code may be answered with (each said in
   * docs/errors.md); {@link AppvisorError} takes no other.
   */
  alsoStatus?: readonly number[];
}

/**
 * The one catalog of error codes. Clients match on `code`, never on text; every code is
 * documented in docs/errors.md with its HTTP status (a test keeps the two in step).
 */
export const errorCatalog = {
  BAD_REQUEST: {
    status: 400,
    text: 'The request is malformed or its fields are invalid.',
    // A body over the size limit (413); the front's login exchange asked by GET (405).
    alsoStatus: [405, 413],
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    text: 'The route does not take a body of this content type.',
  },
  UNAUTHORIZED: { status: 401, text: 'Authentication is required: log in first.' },
  LOGIN_FAILED: { status: 401, text: 'The password is wrong.' },
  RATE_LIMITED: {
    status: 429,
    text: 'Too many logins from this client, or at once; wait and retry.',
  },
  NOT_FOUND: { status: 404, text: 'No such route.' },
  FORBIDDEN: { status: 403, text: 'The request is not allowed from where it came.' },
  PASSWORD_WEAK: { status: 400, text: 'The password is too short or too simple.' },
  STARTING: { status: 503, text: 'The manager is still starting.' },
  DATABASE_UNAVAILABLE: { status: 503, text: 'The database server is not reachable right now.' },
  DATABASE_LOGIN: { status: 500, text: 'The external database server refused the login.' },
  DATABASE_PRIVILEGES: {
    status: 500,
    text: 'The role on the external database server may not do what appvisor needs.',
  },
  CONFIG_INVALID: { status: 400, text: 'The configuration is invalid.' },
  DATA_DIR_UNUSABLE: { status: 500, text: 'The data folder cannot be used.' },
  ALREADY_RUNNING: { status: 409, text: 'Another manager is running on this data folder.' },
  PORT_IN_USE: { status: 500, text: 'A port the manager must listen on is taken.' },
  STORE_TOO_NEW: { status: 500, text: 'The store was written by a newer appvisor.' },
  CLUSTER_MISMATCH: {
    status: 500,
    text: "The store belongs to another platform than this node's cluster.name says.",
  },
  CLUSTER_KEY_MISMATCH: {
    status: 500,
    text: "This node's secret key is not the platform's; copy secret.key from a node of it.",
  },
  NODE_ID_IN_USE: {
    status: 500,
    text: 'A node with this node id is up elsewhere (a copied data folder?).',
  },
  NODE_NOT_FOUND: { status: 404, text: 'No node with this id is registered.' },
  NODE_UP: { status: 409, text: 'The node is up; stop it first.' },
  NODE_NOT_EMPTY: { status: 409, text: 'The node still owns instances.' },
  NODE_UNREACHABLE: {
    status: 503,
    text: 'The node is not up or does not answer.',
  },
  NODE_FULL: { status: 409, text: 'No node can take the instance: capacity reached.' },
  INSTANCE_MOVED: {
    status: 409,
    text: 'The instance changed its node meanwhile; try again.',
  },
  BACKUP_ON_OTHER_NODE: {
    status: 409,
    text: "The archive is in another node's backup folder than the instance's node.",
  },
  MANAGER_UNREACHABLE: { status: 503, text: 'No manager answers on the given socket or URL.' },
  TLS_UNTRUSTED: { status: 502, text: "The manager's certificate is not trusted." },
  APP_NOT_FOUND: { status: 404, text: 'No app with this id is installed.' },
  INVALID_APP_ID: {
    status: 400,
    text: 'An app id is 1 to 64 characters of A-Z a-z 0-9 _ -.',
  },
  PACKAGE_INVALID: { status: 400, text: 'The package is not a valid app package.' },
  NOT_RUNNABLE: {
    status: 409,
    text: 'The app has no run file, so it cannot be started or stopped.',
  },
  APP_HAS_INSTANCES: { status: 409, text: 'The app still has instances; delete them or force.' },
  APP_USER_UNAVAILABLE: {
    status: 409,
    text: 'No system user name is free for this app.',
  },
  INSTANCES_UNSUPPORTED: { status: 409, text: 'This app does not host instances.' },
  INSTANCE_NOT_FOUND: { status: 404, text: 'No instance with this id exists.' },
  INSTANCE_EXISTS: { status: 409, text: 'An instance with this id exists already.' },
  INSTANCE_UNAVAILABLE: {
    status: 503,
    text: "The instance's service is not answering right now; retry shortly.",
    // The service answered, but with a head the front cannot relay.
    alsoStatus: [502],
  },
  PATH_TAKEN: { status: 409, text: 'Another instance uses this web path.' },
  VACUUM_FAILED: {
    status: 500,
    text: "The vacuum of the instance's database stopped; nothing was lost.",
  },
  INVALID_INSTANCE: { status: 400, text: 'An instance setting is invalid.' },
  CERT_INVALID: { status: 400, text: 'The certificate bundle or its key is not usable.' },
  TEMPLATE_INVALID: { status: 400, text: 'The backup name template is not valid.' },
  BACKUP_NOT_FOUND: { status: 404, text: 'No such backup archive.' },
  BACKUP_INVALID: { status: 400, text: 'The backup archive is damaged or not a backup.' },
  BACKUP_APP_MISMATCH: { status: 409, text: 'The backup was made of another app.' },
  BACKUP_EXISTS: { status: 409, text: 'An archive with this name exists already.' },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    text: 'The requested byte range lies outside the file.',
  },
  PASSPHRASE_WRONG: { status: 400, text: 'The passphrase is missing or wrong.' },
  BACKUP_FAILED: { status: 500, text: 'The backup could not be made.' },
  TARGET_NOT_FOUND: { status: 404, text: 'No backup target of that name.' },
  TARGET_EXISTS: { status: 409, text: 'A backup target of that name exists already.' },
  TARGET_INVALID: { status: 400, text: 'The backup target is not valid.' },
  TARGET_DENIED: { status: 502, text: 'The backup target refused the credentials.' },
  TARGET_UNREACHABLE: { status: 502, text: 'The backup target cannot be reached.' },
  TARGET_FAILED: { status: 502, text: 'The backup target answered with an error.' },
  BACKUP_UNVERIFIED: {
    status: 500,
    text: 'The backup was written but a test restore of it failed.',
  },
  RESTORE_FAILED: { status: 500, text: 'The restore failed; the live instance is unchanged.' },
  SETTING_INVALID: { status: 400, text: 'A platform setting is invalid.' },
  IMPORT_INVALID: {
    status: 400,
    text: 'The configuration file is not valid; nothing was changed.',
  },
  IMPORT_CONFLICT: {
    status: 409,
    text: 'The configuration file does not fit this platform as it is; nothing was changed.',
  },
  IMPORT_FAILED: {
    status: 500,
    text: 'The configuration import failed and could not be undone completely.',
  },
  DUMP_FAILED: { status: 500, text: 'A database dump failed.' },
  DISK_FULL: {
    status: 507,
    text: 'The disk of the data folder is full; free space (appvisor disk release) and retry.',
  },
  APPSTORE_NOT_FOUND: { status: 404, text: 'No app store with this name is configured.' },
  APPSTORE_INVALID: { status: 400, text: 'An app store setting (name, URL, key) is invalid.' },
  APPSTORE_UNREACHABLE: {
    status: 502,
    text: 'The app store or its package could not be fetched (connection, HTTP status, stall).',
  },
  APPSTORE_INDEX_INVALID: { status: 502, text: "The app store's apps.json is not a valid index." },
  APPSTORE_INDEX_EXPIRED: {
    status: 502,
    text: "The app store's signed index is past its expiry time.",
  },
  APPSTORE_INDEX_REPLAYED: {
    status: 502,
    text: "The app store's signed index is older than one seen before.",
  },
  APPSTORE_PINNED: {
    status: 409,
    text: 'The app is pinned to the app store and key it was installed from.',
  },
  APPSTORE_APP_NOT_FOUND: {
    status: 404,
    text: 'No configured app store lists this app or version.',
  },
  SIGNATURE_INVALID: {
    status: 502,
    text: 'The index or package is unsigned or not signed by a trusted key.',
  },
  PACKAGE_DIGEST_MISMATCH: {
    status: 502,
    text: "The downloaded package's size or sha256 is not the one the index says.",
  },
  DOWNGRADE_REFUSED: {
    status: 409,
    text: 'The version is older than the installed one; force it.',
  },
  UPDATE_FAILED: {
    status: 500,
    text: 'The new version did not get ready; the previous one was put back.',
  },
  INTERNAL: { status: 500, text: 'An unexpected error happened; see the manager log.' },
} as const satisfies Record<string, CatalogEntry>;

/** A stable error code of the catalog. */
export type ErrorCode = keyof typeof errorCatalog;

type AlsoStatusOf<E> = E extends { alsoStatus: readonly (infer S)[] } ? S : never;

/** A status some code of the catalog may have besides its own (see {@link CatalogEntry}). */
export type AlsoStatus = AlsoStatusOf<(typeof errorCatalog)[ErrorCode]>;

/** True for a code of the catalog. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCatalog, code);
}

/** The status an error of `code` is answered with: `wanted` when the catalog allows it. */
export function statusOf(code: ErrorCode, wanted?: number): number {
  const entry: CatalogEntry = errorCatalog[code];
  return wanted !== undefined && entry.alsoStatus?.includes(wanted) ? wanted : entry.status;
}
