import type { Readable } from 'node:stream';
import { runPgDump } from './pg-dump-run.js';
import { dumpDevicePath } from './worker-protocol.js';

/** Where and as whom to connect for a dump. */
export interface DumpSource {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Dump as this role (pg_dump's `--role`: SET ROLE after connecting as `user`). */
  role?: string;
}

/** Options of {@link dumpDatabase}. */
export interface DumpOptions {
  /** Aborting terminates pg_dump, closes its connection and errors the stream (AbortError). */
  signal?: AbortSignal;
}

/** Quotes a libpq connection-string value. */
function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The connection string for pg_dump. The password is not in it (it goes to the module's
 * .pgpass). TLS and GSSAPI are off: the bytes travel over a plain TCP socket that the main
 * thread opened to a loopback server.
 */
export function dumpConninfo(source: Omit<DumpSource, 'password'>): string {
  const values: [string, string][] = [
    ['host', source.host],
    ['port', String(source.port)],
    ['user', source.user],
    ['dbname', source.database],
    ['sslmode', 'disable'],
    ['gssencmode', 'disable'],
    ['application_name', 'appvisor pg_dump'],
  ];
  return values.map(([key, value]) => `${key}=${conninfoValue(value)}`).join(' ');
}

/**
 * Plain-format SQL of one database as one consistent snapshot (pg_dump's own transaction),
 * without owners or privileges (`-O -x`), so it restores into a database of another role.
 * Streamed: pg_dump pauses while the consumer is behind, so memory stays bounded whatever the
 * database's size. Runs the WebAssembly pg_dump 18 of `@electric-sql/pglite-tools` in a worker
 * thread; no native binary is used.
 *
 * Errors: the stream errors with an `AppvisorError` `DUMP_FAILED` whose message has pg_dump's
 * stderr (a wrong password, an unknown database, a lost connection, a module that cannot be
 * loaded), or with an `AbortError` when `options.signal` aborts.
 */
export function dumpDatabase(source: DumpSource, options: DumpOptions = {}): Readable {
  const run = runPgDump({
    args: [
      '--format=plain',
      '--no-owner',
      '--no-privileges',
      // Never prompt: a prompt would read an empty line and reconnect over the same socket.
      '--no-password',
      // An fsync of the output device means nothing; the consumer makes the dump durable.
      '--no-sync',
      `--file=${dumpDevicePath}`,
      ...(source.role !== undefined ? [`--role=${source.role}`] : []),
      `--dbname=${dumpConninfo(source)}`,
    ],
    password: source.password,
    server: { host: source.host, port: source.port },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return run.output;
}
