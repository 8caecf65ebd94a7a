/** One step of the store's schema. Applied once, in order, each in its own transaction. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The store's schema history. Append only: a released migration is never edited, a change is
 * a new one. Every row that belongs to one node carries `node_id`, so several managers can
 * share one external store later (DESIGN.md, "Beyond one machine").
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'settings, admin sessions, events',
    sql: `
      CREATE TABLE settings (
        key text PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE admin_sessions (
        token_hash bytea PRIMARY KEY,
        node_id text NOT NULL,
        client text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);
      CREATE TABLE events (
        id bigserial PRIMARY KEY,
        node_id text NOT NULL,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        severity text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        subject text NOT NULL DEFAULT '',
        text text NOT NULL
      );
      CREATE INDEX events_at ON events (at DESC);
    `,
  },
  {
    version: 2,
    name: 'apps',
    sql: `
      CREATE TABLE apps (
        node_id text NOT NULL,
        id text NOT NULL,
        autostart boolean NOT NULL DEFAULT false,
        log_max_bytes bigint,
        log_files integer,
        unix_user text,
        pid integer,
        installed_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (node_id, id)
      );
    `,
  },
  {
    version: 3,
    name: 'instances',
    sql: `
      CREATE TABLE instances (
        id text PRIMARY KEY,
        node_id text NOT NULL,
        app text NOT NULL,
        domain text NOT NULL,
        path text NOT NULL UNIQUE,
        password_sealed text NOT NULL,
        db_name text NOT NULL UNIQUE,
        db_password_sealed text NOT NULL,
        trace_flags text[] NOT NULL DEFAULT '{}',
        enabled boolean NOT NULL DEFAULT true,
        exclude_from_backup boolean NOT NULL DEFAULT false,
        state text NOT NULL CHECK (state IN ('creating', 'ready', 'deleting')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX instances_app ON instances (node_id, app);
    `,
  },
  {
    version: 4,
    name: 'alarms and their history',
    sql: `
      CREATE TABLE alarms (
        node_id text NOT NULL,
        code text NOT NULL,
        subject text NOT NULL DEFAULT '',
        severity text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        text text NOT NULL,
        since timestamptz NOT NULL,
        PRIMARY KEY (node_id, code, subject)
      );
      CREATE TABLE alarm_history (
        id bigserial PRIMARY KEY,
        node_id text NOT NULL,
        at timestamptz NOT NULL,
        action text NOT NULL CHECK (action IN ('raised', 'cleared')),
        code text NOT NULL,
        subject text NOT NULL DEFAULT '',
        severity text NOT NULL,
        text text NOT NULL
      );
      CREATE INDEX alarm_history_at ON alarm_history (node_id, at DESC);
    `,
  },
  {
    version: 5,
    name: 'apps installed from an app store',
    sql: `
      CREATE TABLE store_installs (
        node_id text NOT NULL,
        app text NOT NULL,
        store text NOT NULL,
        version text NOT NULL,
        build bigint NOT NULL,
        sha256 text NOT NULL,
        installed_at timestamptz NOT NULL,
        PRIMARY KEY (node_id, app)
      );
    `,
  },
  {
    version: 6,
    name: 'one Unix user per app',
    // Until now an app's user name was derived from its id, and a hashed name could equal
    // another id's plain one: two apps shared a user. Of apps sharing one, the first installed
    // (then the first by id) keeps it; the others lose it and get a user of their own when
    // the manager loads them next. From here on, no two apps of a node may name one user.
    sql: `
      UPDATE apps AS a SET unix_user = NULL
      WHERE a.unix_user IS NOT NULL AND EXISTS (
        SELECT 1 FROM apps AS b
        WHERE b.node_id = a.node_id AND b.unix_user = a.unix_user
          AND (b.installed_at, b.id) < (a.installed_at, a.id)
      );
      CREATE UNIQUE INDEX apps_unix_user ON apps (node_id, unix_user);
    `,
  },
  {
    version: 7,
    name: "apps' resource limits",
    sql: `
      ALTER TABLE apps
        ADD COLUMN memory_max_bytes bigint,
        ADD COLUMN cpu_weight integer,
        ADD COLUMN pids_max integer;
    `,
  },
  {
    version: 8,
    name: 'app store trust: the key an app was installed with, the newest index seen',
    sql: `
      ALTER TABLE store_installs ADD COLUMN key text;
      CREATE TABLE store_index_seen (
        node_id text NOT NULL,
        store text NOT NULL,
        url text NOT NULL,
        published timestamptz NOT NULL,
        PRIMARY KEY (node_id, store, url)
      );
    `,
  },
  {
    version: 9,
    name: 'a journal of operations a crash must finish or undo',
    sql: `
      CREATE TABLE operations (
        node_id text NOT NULL,
        kind text NOT NULL,
        subject text NOT NULL,
        step text NOT NULL,
        data jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (node_id, kind, subject)
      );
    `,
  },
  {
    version: 10,
    name: 'app store updates under way, finished or rolled back at the next start',
    sql: `
      CREATE TABLE store_updates (
        node_id text NOT NULL,
        app text NOT NULL,
        phase text NOT NULL,
        journal jsonb NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (node_id, app)
      );
    `,
  },
  {
    version: 11,
    name: "an instance row's making or removal is its provisioning, not its state",
    // "state" is the runtime state of an instance (stopped, starting, ready, failed), which
    // lives in the manager only; the row's column says how far its creation or deletion got.
    sql: `
      ALTER TABLE instances RENAME COLUMN state TO provisioning;
      ALTER TABLE instances RENAME CONSTRAINT instances_state_check TO instances_provisioning_check;
    `,
  },
  {
    version: 12,
    name: 'remote backup targets, their credentials sealed',
    // Platform-wide like settings: a target is a place, not a node's. The credentials are one
    // sealed JSON value (SecretBox); nothing else in the row is secret.
    sql: `
      CREATE TABLE backup_targets (
        name text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('s3', 'webdav')),
        url text NOT NULL,
        options jsonb NOT NULL DEFAULT '{}',
        credentials_sealed text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 13,
    name: 'the nodes of the platform and their leases',
    // One row of \`platform\`: the cluster's name (null: a platform of one node) and a value
    // sealed with the platform's secret key, so that a node with another key is refused
    // before it misreads a sealed secret. A node's lease is timed by the server's clock alone
    // (\`now()\`), so that the nodes' clocks never matter; \`generation\` counts its starts, and
    // \`down_seen\` is the generation whose loss was recorded (once, by whichever node saw it).
    sql: `
      CREATE TABLE platform (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        cluster_name text,
        key_check text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE nodes (
        node_id text PRIMARY KEY,
        host text NOT NULL,
        address text NOT NULL,
        data_dir text NOT NULL,
        capacity integer NOT NULL CHECK (capacity >= 0),
        version text NOT NULL,
        pid integer NOT NULL,
        generation bigint NOT NULL,
        joined_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz NOT NULL,
        stopped_at timestamptz,
        down_seen bigint
      );
    `,
  },
  {
    version: 14,
    name: "the platform's app packages, kept once for every node",
    // The package an app was last installed from on any node of a cluster, packed the same
    // way on every node (so that one package gives one sha256); each node's row of the app
    // says which package it installed (null: installed on this node by hand, not yet given
    // to the platform).
    sql: `
      CREATE TABLE app_packages (
        app text PRIMARY KEY,
        sha256 text NOT NULL,
        archive bytea NOT NULL,
        autostart boolean NOT NULL,
        from_node text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      ALTER TABLE apps ADD COLUMN package_sha256 text;
    `,
  },
  {
    version: 15,
    name: 'nodes drained for maintenance',
    sql: `ALTER TABLE nodes ADD COLUMN draining boolean NOT NULL DEFAULT false;`,
  },
  {
    version: 16,
    name: "the platform's alarm history, newest first",
    // On a cluster the history the admin reads is every node's, newest first.
    sql: `CREATE INDEX alarm_history_platform ON alarm_history (at DESC, id DESC);`,
  },
  {
    version: 17,
    name: "the roll of an app's package from node to node",
    // One node at a time installs a new package (docs/cluster.md, "Apps"): the node that holds
    // the roll (it lets go when done, or by its lease running out), and why a node that could
    // not get the package ready stopped the roll (null: it goes on). Each node's row of the
    // app keeps the package it had while it installs one, so that a manager stopped in the
    // middle tells a rolled back install from an install by hand.
    sql: `
      ALTER TABLE app_packages ADD COLUMN rolling_node text;
      ALTER TABLE app_packages ADD COLUMN halted text;
      ALTER TABLE apps ADD COLUMN rolling_from text;
    `,
  },
];
