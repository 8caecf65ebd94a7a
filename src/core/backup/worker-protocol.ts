/** What the main thread and the pg_dump worker tell each other. */

/** The job given to the worker as `workerData`. */
export interface WorkerJob {
  /** The {@link Channel} buffer. */
  channel: SharedArrayBuffer;
  /** pg_dump's arguments (never a password). */
  args: string[];
  /** Written to the module's own `.pgpass` (mode 0600), never to its arguments or a log. */
  password: string | undefined;
}

/** Messages from the worker. */
export type WorkerMessage =
  /** Protocol bytes for the server. */
  | { type: 'send'; data: Uint8Array }
  /** The worker took bytes from a ring the main thread had found full. */
  | { type: 'space' }
  /** A batch of dump output; counted in the channel's `outPending`. */
  | { type: 'output'; data: Uint8Array }
  /** pg_dump's main returned or exited; every output batch was posted before this. */
  | { type: 'exit'; code: number; stdout: string; stderr: string }
  /** The module could not be loaded or crashed. */
  | { type: 'failed'; message: string; stderr: string };

/** Where pg_dump writes the dump inside the module: a device, not a file. */
export const dumpDevicePath = '/dev/appvisor-dump';
