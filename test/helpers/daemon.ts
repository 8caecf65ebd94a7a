/**
 * Starts the real daemon as a child process on ephemeral loopback ports in a temp data folder,
 * and talks to it the way users do: HTTP, the CLI, signals.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rmSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import type { AppStatus, InstanceView, StatusReport } from '../../src/api/index.js';
import { removeSystemUser } from '../../src/lib/os-users.js';
import { findProcesses, isAlive, waitForExit } from '../../src/lib/processes.js';
import { makeAppFolder } from './apps.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const binPath = join(repoRoot, 'bin', 'appvisor.js');

/** A fresh temp folder; remove it with {@link removeTemp}. */
/** Every temp folder made here; whatever a test forgot is removed when the test process ends. */
const temps = new Set<string>();

export async function makeTemp(prefix = 'appvisor-test-'): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  if (temps.size === 0) {
    process.once('exit', () => {
      for (const temp of temps) rmSync(temp, { recursive: true, force: true });
    });
  }
  temps.add(path);
  // As root the database runs as its own user, which must be able to pass through.
  await chmod(path, 0o711);
  return path;
}

/** Removes a temp folder; for a daemon's data folder, the users its apps had, too. */
export async function removeTemp(path: string): Promise<void> {
  await removeAppUsers(path);
  await rm(path, { recursive: true, force: true });
}

/**
 * As root every app gets a system user of its own that only `app uninstall` removes; a test
 * that drops a data folder (the folder given, or a folder in it) drops them here, found as the
 * owners of `appdata/<app>` (a user some process still has stays).
 */
async function removeAppUsers(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const inside = await readdir(path, { withFileTypes: true }).catch(() => []);
  const folders = [path, ...inside.filter((e) => e.isDirectory()).map((e) => join(path, e.name))];
  const owners = new Set<number>();
  for (const folder of folders) {
    const appdata = join(folder, 'appdata');
    for (const app of await readdir(appdata).catch(() => [] as string[])) {
      const info = await lstat(join(appdata, app)).catch(() => undefined);
      if (info?.isDirectory() && info.uid !== 0) owners.add(info.uid);
    }
  }
  if (owners.size === 0) return;
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name?.startsWith('av-') && owners.has(Number(uid))) {
      await removeSystemUser(name).catch(() => undefined);
    }
  }
}

/** A clean environment: nothing of the caller's APPVISOR_* leaks into a test. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

export interface DaemonOptions {
  data: string;
  env?: Record<string, string>;
  args?: string[];
  /** Flags for Node.js itself, before the script (e.g. `--inspect=127.0.0.1:0`). */
  nodeArgs?: string[];
  /** Time to wait for the ready line. */
  timeoutMs?: number;
  /** Called with each piece of the daemon's stderr, from its start (before it is ready, too). */
  onStderr?: (text: string) => void;
}

export interface Daemon {
  child: ChildProcess;
  data: string;
  /** The front's plain HTTP origin (apps' pages). */
  httpUrl: string;
  /** The front's HTTPS origin (apps' pages). */
  httpsUrl: string;
  /** The admin UI's and API's own origin. */
  adminUrl: string;
  socket: string;
  /** The one-time admin password, when the daemon printed one. */
  password: string | undefined;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The arguments that put a test daemon on loopback ephemeral ports. */
export function daemonArgs(data: string, extra: string[] = []): string[] {
  return [
    binPath,
    'daemon',
    '--data',
    data,
    '--http-port',
    '0',
    '--https-port',
    '0',
    '--admin-port',
    '0',
    '--set',
    'http.host=127.0.0.1',
    '--set',
    'https.host=127.0.0.1',
    '--set',
    'admin.host=127.0.0.1',
    // No 500 MB reserve file in every test's data folder; the alarm tests set one.
    '--set',
    'disk.reserveBytes=0',
    ...extra,
  ];
}

/** Starts the daemon and resolves once it printed that it is ready. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ...daemonArgs(options.data, options.args)],
    {
      env: cleanEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    options.onStderr?.(chunk.toString());
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  const state = { done: false };
  void exited.then(() => {
    state.done = true;
  });
  // The ready block is written at once and ends with the data folder line.
  while (!/ {2}data folder: .*\n/.test(out)) {
    if (state.done) throw new Error(`daemon exited before it was ready:\n${out}\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon not ready in time:\n${out}\n${err}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const httpUrl = /front URL: (http:\/\/[^/\s]+)/.exec(out)![1]!;
  const httpsUrl = /front URL: (https:\/\/[^/\s]+)/.exec(out)![1]!;
  const adminUrl = /admin URL: (https?:\/\/[^/\s]+)/.exec(out)![1]!;
  const password = /one-time admin password: (\S+)/.exec(out)?.[1];
  return {
    child,
    data: options.data,
    httpUrl,
    httpsUrl,
    adminUrl,
    socket: join(options.data, 'manager.sock'),
    password,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the daemon expecting it to fail at start; resolves with its exit code and output. */
export async function failingDaemon(
  data: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode(daemonArgs(data, extra), env, 60_000);
}

/** Runs the CLI on the daemon's data folder; fails the test unless it exits 0. Its stdout. */
export async function cliOk(daemon: Daemon, ...args: string[]): Promise<string> {
  const done = await cli([...args, '--data', daemon.data]);
  assert.equal(done.code, 0, `${args.join(' ')}: ${done.stderr}`);
  return done.stdout;
}

/** Runs the CLI to its end. */
export function cli(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode([binPath, ...args], options.env ?? {}, 60_000, options.input);
}

function runNode(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: cleanEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${args.join(' ')}\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
  text: string;
}

/** One HTTP(S) request to a URL or to a Unix socket (`socket`), JSON in and out. */
export function http(
  method: string,
  target: { url: string } | { socket: string },
  path: string,
  options: { token?: string; cookie?: string; body?: unknown } = {},
): Promise<HttpAnswer> {
  const payload =
    options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = {};
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  return new Promise((resolve, reject) => {
    const onResponse = (response: import('node:http').IncomingMessage) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        let body: unknown = undefined;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, text });
      });
    };
    let req;
    if ('socket' in target) {
      req = httpRequest({ socketPath: target.socket, path, method, headers }, onResponse);
    } else {
      const url = new URL(path, target.url);
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      req = send(url, { method, headers, rejectUnauthorized: false }, onResponse);
    }
    req.once('error', reject);
    req.end(payload);
  });
}

/** A request to the API over manager.sock; the body as JSON. */
export async function api(
  daemon: Daemon,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const answer = await http(method, { socket: daemon.socket }, `/manager/api/v1${path}`, {
    body,
  });
  return { status: answer.status, body: answer.body };
}

/** The alarms raised now. */
export async function activeAlarms(daemon: Daemon): Promise<StatusReport['alarms']> {
  return ((await api(daemon, 'GET', '/status')).body as StatusReport).alarms;
}

/**
 * Mounts a tmpfs of `size` (`400m`) on the folder `path`, for tests of a small or full disk:
 * false when it cannot be mounted (only root can). Undo with {@link unmountTmpfs}.
 */
export function mountTmpfs(path: string, size: string, mode = '0711'): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=${mode}`, 'tmpfs', path], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Unmounts what {@link mountTmpfs} mounted (lazily: a process may still hold a file), after
 * removing the users of the apps a daemon installed there (see {@link removeTemp}).
 */
export async function unmountTmpfs(path: string): Promise<void> {
  await removeAppUsers(path);
  execFileSync('umount', ['-l', path]);
}

/** Logs in with the admin password and returns the bearer token. */
export async function login(daemon: Daemon, password: string): Promise<string> {
  const answer = await http('POST', { url: daemon.adminUrl }, '/manager/api/v1/auth/login', {
    body: { password },
  });
  if (answer.status !== 200) throw new Error(`login failed: ${answer.status} ${answer.text}`);
  return (answer.body as { token: string }).token;
}

/** Processes (other than this one) whose command line mentions the data folder. */
export function processesOf(data: string): Promise<number[]> {
  return findProcesses(data);
}

/** Kills every process that mentions the data folder (cleanup after a failed test). */
export async function killAll(data: string): Promise<void> {
  for (const pid of await processesOf(data)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    await waitForExit(pid, 5_000);
  }
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export { isAlive };

/** Stops a daemon in an `after` hook: also when its `before` failed and it never started. */
export async function stopQuietly(daemon: Daemon | undefined): Promise<void> {
  await daemon?.stop().catch(() => undefined);
}

/**
 * Inside a `describe`: starts a daemon in a fresh data folder before its tests and stops it,
 * kills anything left and removes the folder after them.
 */
export function withDaemon(options: Omit<DaemonOptions, 'data'> = {}): {
  readonly daemon: Daemon;
  readonly data: string;
} {
  const state: { daemon?: Daemon; data?: string } = {};
  before(async () => {
    state.data = await makeTemp();
    state.daemon = await startDaemon({ ...options, data: state.data });
  });
  after(async () => {
    await stopQuietly(state.daemon);
    if (state.data) {
      await killAll(state.data);
      await removeTemp(state.data);
    }
  });
  return {
    get daemon() {
      if (!state.daemon) throw new Error('the daemon is not started');
      return state.daemon;
    },
    get data() {
      if (!state.data) throw new Error('the data folder is not made');
      return state.data;
    },
  };
}

/** GET /apps/:id over the socket. */
export async function appStatus(daemon: Daemon, id: string): Promise<AppStatus> {
  return (await http('GET', { socket: daemon.socket }, `/manager/api/v1/apps/${id}`))
    .body as AppStatus;
}

/** GET /instances/:id over the socket. */
export async function instanceView(daemon: Daemon, id: string): Promise<InstanceView> {
  return (await http('GET', { socket: daemon.socket }, `/manager/api/v1/instances/${id}`))
    .body as InstanceView;
}

/** Waits until the app is running (for a service: until it said ready). */
export async function waitForApp(daemon: Daemon, id: string): Promise<AppStatus> {
  return eventually(
    async () => {
      const status = await appStatus(daemon, id);
      return status.state === 'running' ? status : undefined;
    },
    30_000,
    `${id} running`,
  );
}

/** Waits until the instance is ready in its service. */
export async function waitForInstance(daemon: Daemon, id: string): Promise<InstanceView> {
  return eventually(
    async () => {
      const view = await instanceView(daemon, id);
      return view.state === 'ready' ? view : undefined;
    },
    30_000,
    `${id} ready`,
  );
}

/**
 * Installs examples/echo with autostart into the manager of the data folder `data` (`extra`:
 * more options of `app install`, such as `--id`); throws what the CLI said when it failed.
 */
export async function installEcho(data: string, ...extra: string[]): Promise<void> {
  const installed = await cli([
    'app',
    'install',
    join(repoRoot, 'examples', 'echo'),
    ...extra,
    '--autostart',
    '--data',
    data,
  ]);
  if (installed.code !== 0) throw new Error(installed.stderr);
}

/**
 * Creates the instance `id` of `app` (`options`: more of `instance create`, such as
 * `--domain`) and waits until it is ready; throws what the CLI said when it failed.
 */
export async function createInstance(
  daemon: Daemon,
  app: string,
  id: string,
  ...options: string[]
): Promise<void> {
  const created = await cli(['instance', 'create', app, id, ...options, '--data', daemon.data]);
  if (created.code !== 0) throw new Error(created.stderr);
  await waitForInstance(daemon, id);
}

/**
 * Installs examples/echo (autostart; unless `install` is false, when it is installed already),
 * waits until it runs, and creates a ready instance.
 */
export async function echoWithInstance(daemon: Daemon, id: string, install = true): Promise<void> {
  if (install) await installEcho(daemon.data);
  await waitForApp(daemon, 'echo');
  await createInstance(daemon, 'echo', id, '--domain', 'example.com');
}

/**
 * Installs a service written in plain Node.js that hosts instances (`source` becomes its
 * `main.cjs`, which `run` executes) with autostart, and waits until it runs.
 */
export async function installNodeService(
  daemon: Daemon,
  app: string,
  source: string,
): Promise<void> {
  const folder = await makeAppFolder(await makeTemp(), app, {
    run: 'exec "$APPVISOR_NODE" "$APPVISOR_APP_DIR/main.cjs"',
    manifest: { instances: true },
    files: { 'main.cjs': source },
  });
  const installed = await cli(['app', 'install', folder, '--autostart', '--data', daemon.data]);
  if (installed.code !== 0) throw new Error(installed.stderr);
  await waitForApp(daemon, app);
}

/**
 * Installs a service written in plain Node.js ({@link installNodeService}) and creates a ready
 * instance `instance` at `path`.
 */
export async function nodeServiceWithInstance(
  daemon: Daemon,
  app: string,
  source: string,
  instance: { id: string; path: string },
): Promise<void> {
  await installNodeService(daemon, app, source);
  await createInstance(daemon, app, instance.id, '--path', instance.path);
}

/**
 * Backs the instance `id` up and restores the backup as a new instance `as` (`restore --as`),
 * with the CLI; waits until it is ready. Its view.
 */
export async function cloneInstance(daemon: Daemon, id: string, as: string): Promise<InstanceView> {
  const made = JSON.parse(await cliOk(daemon, 'backup', 'create', id, '--json')) as {
    file: string;
  };
  await cliOk(daemon, 'backup', 'restore', made.file, '--as', as);
  return waitForInstance(daemon, as);
}

/** The instance password (the AppWebsocket login's secret). */
export async function passwordOf(daemon: Daemon, id: string): Promise<string> {
  const shown = await cli([
    'instance',
    'show',
    id,
    '--reveal-password',
    '--json',
    '--data',
    daemon.data,
  ]);
  if (shown.code !== 0) throw new Error(shown.stderr);
  return (JSON.parse(shown.stdout) as { password: string }).password;
}
