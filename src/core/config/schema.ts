import { z } from 'zod';

const port = (what: string, rootPort: number, userPort: number) =>
  z
    .int()
    .min(0)
    .max(65535)
    .nullable()
    .default(null)
    .describe(
      `${what} port. Empty (null): ${rootPort} when the manager runs as root, ${userPort} otherwise. 0 picks a free port.`,
    );

/** The rate limit of one kind of message a service sends (config `services`). */
const rateLimit = (messages: string, perSecond: number, burst: number) =>
  z
    .strictObject({
      perSecond: z
        .number()
        .positive()
        .default(perSecond)
        .describe(`${messages} per second one app may send on average; more are dropped.`),
      burst: z
        .int()
        .min(1)
        .default(burst)
        .describe(`${messages} one app may send at once before the rate applies.`),
    })
    .prefault({});

/**
 * The one configuration schema: it gives the types, the defaults and the documentation
 * (docs/configuration.md is rendered from it). Sources, strongest first: command-line flags,
 * `APPVISOR_*` environment variables, the JSON file given with `--config`, these defaults.
 */
export const configSchema = z.strictObject({
  data: z
    .string()
    .min(1)
    .default('./data')
    .describe('Data folder: apps, their data, logs, the embedded database, secrets.'),
  http: z
    .strictObject({
      host: z
        .string()
        .default('')
        .describe('Address the plain HTTP front listens on. Empty: every address.'),
      port: port('Plain HTTP', 80, 8080),
    })
    .prefault({}),
  https: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Serve HTTPS (TLS) as well.'),
      host: z
        .string()
        .default('')
        .describe('Address the HTTPS front listens on. Empty: every address.'),
      port: port('HTTPS', 443, 8443),
      http2: z
        .boolean()
        .default(true)
        .describe(
          'Offer HTTP/2 to TLS clients (ALPN h2). Clients without it, and WebSockets, use HTTP/1.1 on the same port either way.',
        ),
      hstsMaxAgeSeconds: z
        .int()
        .min(0)
        .default(31536000)
        .describe(
          'max-age of the Strict-Transport-Security header on admin responses over HTTPS (0: none). Browsers honour it only with a certificate they trust, and then use HTTPS for every port of that host name.',
        ),
    })
    .prefault({}),
  front: z
    .strictObject({
      maxConnectionsPerClient: z
        .int()
        .min(0)
        .default(1000)
        .describe(
          'Connections one client address may hold open with the front at once (0: no limit). Handed-over WebSockets no longer count.',
        ),
      headersTimeoutSeconds: z
        .number()
        .positive()
        .default(20)
        .describe('Time a client has to send a request head.'),
      keepAliveTimeoutSeconds: z
        .number()
        .positive()
        .default(5)
        .describe('Time an idle keep-alive connection is kept.'),
      maxConnections: z
        .int()
        .min(0)
        .default(10000)
        .describe(
          'Connections the front holds open at once, from all clients together (0: no limit); beyond it new ones are closed at once. Handed-over WebSockets no longer count; piped ones (HTTPS) do.',
        ),
      idleTimeoutSeconds: z
        .number()
        .positive()
        .default(120)
        .describe(
          "Longest time a request to an app may go without a byte either way before its connection is closed. There is no total limit (uploads and downloads may be long). WebSockets are not affected; admin requests have the admin's body timeouts.",
        ),
    })
    .prefault({}),
  database: z
    .strictObject({
      url: z
        .url({ protocol: /^postgres(ql)?$/ })
        .nullable()
        .default(null)
        .describe(
          'URL of an external PostgreSQL server with an admin role (CREATEDB, CREATEROLE). Empty: the embedded server is started.',
        ),
      port: z
        .int()
        .min(0)
        .max(65535)
        .default(0)
        .describe(
          'TCP port of the embedded server on 127.0.0.1. 0 picks a free port at each start.',
        ),
      fallbackDir: z
        .string()
        .min(1)
        .default('/var/lib/appvisor')
        .describe(
          'As root, where the embedded cluster goes (in a folder named after the node id) when the postgres user cannot reach the data folder.',
        ),
      maxConnections: z
        .int()
        .min(500)
        .max(100000)
        .default(500)
        .describe('max_connections of the embedded server.'),
      startTimeoutSeconds: z
        .number()
        .positive()
        .default(60)
        .describe('How long the embedded server may take to accept connections.'),
      startWaitSeconds: z
        .number()
        .min(0)
        .default(0)
        .describe(
          'With `url`: how long a start waits for an external server that does not answer (retried after 1 s, doubling up to 30 s, each attempt logged as `DATABASE_UNAVAILABLE`); 0 waits for ever. A refused login or missing privileges end the start at once.',
        ),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      name: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, '1 to 63 of a-z 0-9 -, starting with a letter or digit')
        .nullable()
        .default(null)
        .describe(
          'Name of the platform this node joins (several managers on one external PostgreSQL, `database.url`). Every node of a platform names the same; empty: a platform of one node, which refuses a store other nodes use. See docs/cluster.md.',
        ),
      host: z
        .string()
        .max(253)
        .regex(/^[A-Za-z0-9.:_-]*$/, 'a host name or an IP address')
        .default('')
        .describe(
          "Name or address by which the other nodes reach this one, on a private network; the port is this node's HTTP port. Empty: the machine's host name.",
        ),
      capacity: z
        .int()
        .min(0)
        .max(1_000_000)
        .default(1000)
        .describe(
          'How many instances this node takes at most when the platform places them; 0: none.',
        ),
      leaseSeconds: z
        .number()
        .min(2)
        .max(300)
        .default(10)
        .describe(
          "How long a node counts as up after its last heartbeat (sent every third of it, timed by the database server's clock). A node whose lease runs out is `down`.",
        ),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe("Level of the manager's own log, logs/manager.log."),
      maxBytes: z
        .int()
        .min(64 * 1024)
        .default(10 * 1024 * 1024)
        .describe('Size of one manager log file before it is rotated.'),
      files: z
        .int()
        .min(1)
        .max(100)
        .default(5)
        .describe('Manager log files kept, the live one included.'),
    })
    .prefault({}),
  admin: z
    .strictObject({
      host: z
        .string()
        .default('')
        .describe(
          'Address the admin UI and API listen on (their own origin, apart from every app). Empty: every address.',
        ),
      port: port('Admin UI and API', 9443, 9443),
      maxConnections: z
        .int()
        .min(0)
        .default(1000)
        .describe('Connections the admin listener holds at once (0: no limit).'),
      tls: z
        .boolean()
        .default(true)
        .describe(
          "Serve the admin UI and API over HTTPS with the platform's certificate; false: plain HTTP (only behind a TLS-terminating proxy or on a trusted network).",
        ),
      initialPassword: z
        .string()
        .min(12)
        .nullable()
        .default(null)
        .describe(
          'Admin password set at the first start instead of a generated one (at least 12 characters). Ignored once a password is stored.',
        ),
      sessionHours: z
        .number()
        .positive()
        .max(24 * 365)
        .default(24)
        .describe('How long a login (cookie or bearer token) stays valid.'),
      loginAttempts: z
        .int()
        .min(1)
        .default(5)
        .describe(
          'Failed logins allowed per client within loginWindowSeconds before it is refused. An attempt counts from when it starts; a successful one is given back.',
        ),
      loginWindowSeconds: z.int().min(1).default(900).describe('Window of the failed-login limit.'),
      bodyTimeoutSeconds: z
        .number()
        .positive()
        .default(30)
        .describe(
          'Time an admin API request body may take to arrive in all (logins, settings: small JSON); the connection is closed when it does not.',
        ),
      uploadIdleTimeoutSeconds: z
        .number()
        .positive()
        .default(60)
        .describe(
          'For package uploads by the logged-in admin, instead of bodyTimeoutSeconds: longest time without a byte of the upload.',
        ),
    })
    .prefault({}),
  apps: z
    .strictObject({
      maxPackageBytes: z
        .int()
        .min(1024)
        .default(1024 * 1024 * 1024)
        .describe('Largest package file (archive) accepted for an install.'),
      maxUnpackedBytes: z
        .int()
        .min(1024)
        .default(4 * 1024 * 1024 * 1024)
        .describe('Largest total size of the files a package unpacks to.'),
      maxEntries: z
        .int()
        .min(1)
        .default(100_000)
        .describe('Most files and folders one package may hold.'),
      maxRatio: z
        .number()
        .min(1)
        .default(200)
        .describe('Largest ratio of unpacked size to archive size (stops archive bombs).'),
      stopGraceSeconds: z
        .number()
        .positive()
        .default(5)
        .describe(
          'Time between SIGTERM and SIGKILL when an app is stopped (app.json stop.graceSeconds overrides it).',
        ),
      memoryMaxBytes: z
        .int()
        .min(16 * 1024 * 1024)
        .default(1024 * 1024 * 1024)
        .describe(
          "Default memory cap of an app (all its processes together; `app configure --memory` sets one app's). Over it, the kernel kills a process of the app and the app is restarted with the app-memory-limit alarm.",
        ),
      cpuWeight: z
        .int()
        .min(1)
        .max(10000)
        .default(100)
        .describe(
          "Default CPU weight of an app, 1 to 10000: under contention each app gets CPU time in proportion to its weight; 100 (every app the same) is an equal share with the manager's own processes.",
        ),
      limitsEnforcement: z
        .enum(['auto', 'rlimit', 'none'])
        .default('auto')
        .describe(
          "How the apps' resource limits are enforced: auto (control groups v2 or v1 where they can be written, else rlimits), rlimit (RLIMIT_NPROC and RLIMIT_AS only), none (no limits; for a machine where something else limits the apps).",
        ),
      pidsMax: z
        .int()
        .min(16)
        .max(4_194_304)
        .default(512)
        .describe(
          'Default number of processes and threads an app may have at once (stops fork bombs).',
        ),
    })
    .prefault({}),
  instances: z
    .strictObject({
      connectionLimit: z
        .int()
        .min(1)
        .max(1000)
        .default(5)
        .describe("Connections each instance's database role may hold at once."),
      startTimeoutSeconds: z
        .number()
        .positive()
        .default(30)
        .describe(
          'How long a service may take to answer instance.start before the instance is marked failed.',
        ),
      largeSharePercent: z
        .number()
        .min(0)
        .max(100)
        .default(25)
        .describe(
          "The `instance-large` alarm is raised when an instance's database and data folder together take more than this share (percent, fractions allowed) of the data folder's disk, and cleared below 90 % of it. Measured every `monitor.intervalSeconds`. 0: off.",
        ),
    })
    .prefault({}),
  services: z
    .strictObject({
      maxMessageBytes: z
        .int()
        .min(16 * 1024)
        .default(256 * 1024)
        .describe(
          'Longest message a service may send over its channel; a longer one (or one that is not JSON) ends the service (SIGKILL) with the `service-misbehaved` alarm.',
        ),
      logs: rateLimit('`log` messages', 200, 2000),
      events: rateLimit('`event` messages', 2, 20),
      alarms: rateLimit('`alarm` messages', 2, 20),
      others: rateLimit('Other messages (`ready`, `instance.*`, unknown types)', 200, 5000),
      maxAlarms: z
        .int()
        .min(1)
        .default(20)
        .describe('Alarms one app may hold raised at once; further raises are dropped.'),
      floodLimit: z
        .int()
        .min(0)
        .default(20_000)
        .describe(
          'Dropped messages within 10 s after which the manager ends the service (SIGKILL) with the `service-misbehaved` alarm. 0: never.',
        ),
    })
    .prefault({}),
  backup: z
    .strictObject({
      folder: z
        .string()
        .default('')
        .describe(
          'Where backup archives go (templates are relative to it). Empty: `<data>/backups`.',
        ),
      parallel: z
        .int()
        .min(1)
        .max(16)
        .default(1)
        .describe('Instance backups that may run at once (each holds a dump and a gzip).'),
      maxUploadBytes: z
        .int()
        .min(0)
        .default(0)
        .describe(
          'Largest archive `backup upload` accepts (413 BAD_REQUEST above it). 0: no limit but the disk: an upload stops with DISK_FULL before it leaves less than 64 MiB free.',
        ),
      updateTemplate: z
        .string()
        .min(1)
        .max(500)
        .default('#A/before-update/#I-#d.tar')
        .describe(
          "Names of the backups made before an update of an app (docs/backups.md templates): a folder of their own, apart from the schedule's archives, which an update never replaces.",
        ),
      updateKeep: z
        .int()
        .min(0)
        .max(1000)
        .default(3)
        .describe(
          'Backups made before updates kept per instance in their folder (the oldest go; 0 keeps all; with `#bn`: the number of slots).',
        ),
    })
    .prefault({}),
  alarms: z
    .strictObject({
      url: z
        .string()
        .default('')
        .refine((v) => v === '' || /^https?:\/\//.test(v), 'an http:// or https:// URL, or empty')
        .describe(
          'URL each alarm raise and clear is POSTed to as JSON (docs/alarms.md); `user:password@` goes as Basic authentication. The setting `alarmUrl` (`appvisor settings set --alarm-url`) overrides it. Empty: none are sent.',
        ),
      resendMinutes: z
        .number()
        .min(0)
        .default(30)
        .describe(
          'Period of re-sending every active alarm, in minutes; fractions are allowed (0.5: every 30 s). 0: never.',
        ),
      retrySeconds: z
        .number()
        .positive()
        .default(2)
        .describe(
          'Delay before the first retry of a failed notification; doubled for each further one.',
        ),
      retryMaxSeconds: z
        .number()
        .positive()
        .default(300)
        .describe('Longest delay between two retries of a notification.'),
      attempts: z
        .int()
        .min(1)
        .default(12)
        .describe('Tries of one notification before it is dropped.'),
      queueSize: z
        .int()
        .min(1)
        .default(1000)
        .describe('Notifications waiting at most; when full, the oldest is dropped.'),
      smtp: z
        .strictObject({
          host: z.string().default('').describe('SMTP server for alarm e-mails. Empty: no e-mail.'),
          port: z.int().min(1).max(65535).default(587).describe('SMTP port.'),
          secure: z
            .boolean()
            .default(false)
            .describe('TLS from the start (port 465); otherwise STARTTLS when offered.'),
          user: z.string().default('').describe('SMTP login. Empty: no authentication.'),
          password: z
            .string()
            .default('')
            .describe('SMTP password (a secret: never logged or shown).'),
          from: z.string().default('').describe('Sender address. Empty: the login.'),
          to: z
            .string()
            .default('')
            .describe(
              'Recipients of alarm e-mails (comma-separated). The setting `alarmEmail` (`appvisor settings set --alarm-email`) overrides it. Empty: no e-mail.',
            ),
        })
        .prefault({}),
    })
    .prefault({}),
  disk: z
    .strictObject({
      reserveBytes: z
        .int()
        .min(0)
        .default(500 * 1024 * 1024)
        .describe(
          'Size of `<data>/reserve`, a file of real blocks to free with `appvisor disk release` when the disk is full (0: none).',
        ),
      lowPercent: z
        .number()
        .min(0)
        .max(100)
        .default(5)
        .describe(
          'disk-low is raised when the free space of the data folder falls below this share of the disk or below `disk.lowBytes`, whichever is smaller.',
        ),
      lowBytes: z
        .int()
        .min(0)
        .default(1024 * 1024 * 1024)
        .describe('disk-low threshold in bytes (see `disk.lowPercent`).'),
      checkSeconds: z
        .number()
        .positive()
        .default(60)
        .describe('Period of checking the free space and recreating the reserve.'),
    })
    .prefault({}),
  appstore: z
    .strictObject({
      checkHours: z
        .number()
        .min(0)
        .max(24 * 365)
        .default(24)
        .describe('Period of the check for app updates in the app stores (0: only on demand).'),
      stallSeconds: z
        .number()
        .positive()
        .max(3600)
        .default(30)
        .describe('A download from an app store that receives nothing for this long is aborted.'),
      downloadMinutes: z
        .number()
        .positive()
        .max(24 * 60)
        .default(30)
        .describe('Longest one index or package download may take.'),
      maxIndexBytes: z
        .int()
        .min(1024)
        .default(16 * 1024 * 1024)
        .describe('Largest app store index (apps.json) accepted.'),
      updateTimeoutSeconds: z
        .number()
        .positive()
        .max(3600)
        .default(120)
        .describe(
          'How long an updated app may take until it and every enabled instance are ready; then it is rolled back.',
        ),
    })
    .prefault({}),
  monitor: z
    .strictObject({
      intervalSeconds: z
        .number()
        .min(1)
        .max(3600)
        .default(10)
        .describe(
          'Time between two samples of the machine, the apps and the database. The last 24 h are kept in memory (24 h / interval samples).',
        ),
      metricsListen: z
        .string()
        .default('')
        .describe(
          'host:port of a separate listener serving only /metrics without authentication, e.g. `127.0.0.1:9464`. Empty: off (/manager/api/v1/metrics with a login still works).',
        ),
      metricsAllowRemote: z
        .boolean()
        .default(false)
        .describe(
          'Allow metricsListen on an address other than loopback. Anyone reaching it can read the metrics.',
        ),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      graceSeconds: z
        .number()
        .positive()
        .default(20)
        .describe('How long a graceful shutdown may take before the remaining parts are killed.'),
    })
    .prefault({}),
  testing: z
    .strictObject({
      pauses: z
        .string()
        .default('')
        .refine(
          (v) => v === '' || /^[a-z][a-z.-]*=\d{1,6}(,[a-z][a-z.-]*=\d{1,6})*$/.test(v),
          'step=milliseconds pairs separated by commas, or empty',
        )
        .describe(
          'For tests only; leave empty. Pauses at named steps of long operations (`restore.fill=3000,restore.swap=3000`), so that a test can kill the manager in a known window; each pause logs a warning `test pause at <step>`. Steps: `instance.provision` (a create recorded its row, before its database), `restore.fill` (a restore made its staging database, before filling it), `restore.swap` (between the database swap and the folder swap), `app.user` (an install made the system user of a new app, before its row names it), `app.spawned` (an app process was spawned, before its pid is recorded), `vacuum.tables` (a vacuum listed its tables, before the first), `backup.<phase>` and `restore.<phase>` (a backup or restore at the end of a phase, `database`, `files`, `unpack` ..., while `GET /backups/running` still shows it).',
        ),
    })
    .prefault({}),
});

/** The configuration as parsed, before defaults that depend on the machine are applied. */
export type ParsedConfig = z.output<typeof configSchema>;

type Resolved<T, K extends keyof T> = Omit<T, K> & { [P in K]: number };

/** The configuration the manager runs with: every value set, paths absolute. */
export type Config = Omit<ParsedConfig, 'http' | 'https' | 'admin'> & {
  http: Resolved<ParsedConfig['http'], 'port'>;
  https: Resolved<ParsedConfig['https'], 'port'>;
  admin: Resolved<ParsedConfig['admin'], 'port'>;
};
