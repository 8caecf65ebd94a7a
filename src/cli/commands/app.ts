import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { create as createTar } from 'tar';
import type { AppLimitsStatus, AppStatus, AppSummary } from '../../api/index.js';
import { CliError } from '../client.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { count, query } from '../query.js';
import { bytes, duration, onOff, printAnswer, printList, table } from '../output.js';
import { withUploadProgress } from '../transfer-progress.js';

function stateText(status: Pick<AppStatus, 'state' | 'nextRestartAt' | 'runnable'>): string {
  if (!status.runnable) return 'not runnable';
  if (status.state === 'backoff' && status.nextRestartAt) {
    const seconds = Math.max(0, (Date.parse(status.nextRestartAt) - Date.now()) / 1000);
    return `backoff (restart in ${duration(seconds)})`;
  }
  return status.state;
}

/** `memory 1.0 GiB, cpu weight 100, 512 processes (cgroup-v1); 2 memory kills` */
export function limitsText(limits: AppLimitsStatus): string {
  const kills = limits.memoryKills > 0 ? `; killed ${limits.memoryKills} times for memory` : '';
  return `memory ${bytes(limits.memoryMaxBytes)}, cpu weight ${limits.cpuWeight}, ${limits.pidsMax} processes (${limits.enforcement})${kills}`;
}

function printStatus(context: CommandContext, status: AppStatus): void {
  printAnswer(context, status, () => table(statusRows(status)));
}

function statusRows(status: AppStatus): string[][] {
  const exit = status.lastExit;
  return [
    [
      'app',
      `${status.id}${status.version ? ` ${status.version}` : ''}${status.title ? ` (${status.title})` : ''}`,
    ],
    ['state', `${stateText(status)}${status.pid !== null ? `, pid ${status.pid}` : ''}`],
    ['autostart', status.autostart ? 'on' : 'off'],
    ['starts', `${status.startCount} (${status.restarts} automatic restarts)`],
    [
      'last exit',
      exit
        ? `${exit.kind}${exit.code !== null ? ` ${exit.code}` : ''}${exit.signal ? ` ${exit.signal}` : ''} at ${exit.at}`
        : 'none',
    ],
    ['log', `${status.log.files} × ${status.log.maxBytes} bytes`],
    ['limits', limitsText(status.limits)],
  ];
}

/**
 * The package to upload: an archive file as it is, or a folder packed on the fly as a tar.gz
 * whose top folder is the app id (the folder's name unless --id is given); its size when known.
 */
async function packageStream(path: string, id: string | undefined) {
  const full = resolve(path);
  const info = await stat(full).catch(() => undefined);
  if (!info) throw new CliError('PACKAGE_INVALID', `${path} does not exist`);
  if (info.isDirectory()) {
    const entries = await readdir(full);
    const pack = createTar(
      { gzip: true, cwd: full, prefix: id ?? basename(full), portable: true },
      entries,
    );
    return { stream: pack.pipe(new PassThrough()), size: null };
  }
  return { stream: createReadStream(full), size: info.size };
}

/**
 * `appvisor app install <package> [--id ID] [--autostart | --no-autostart] [--purge]`: without
 * either flag a re-install keeps the app's autostart (the query leaves it out).
 */
export async function appInstall(
  context: CommandContext,
  path: string,
  options: { id?: string; autostart?: boolean; purge?: boolean },
): Promise<void> {
  const { stream, size } = await packageStream(path, options.id);
  const status = await withUploadProgress(
    context,
    {
      what: `install of ${basename(path)}`,
      source: stream,
      total: size,
      // Over an installed app the answer comes once the new version is ready, or rolled back.
      after: 'the manager unpacks and installs it (a new version: until it is ready)',
    },
    (sent) =>
      context.client.upload<AppStatus>(
        `/apps${query({ id: options.id, autostart: options.autostart, purge: options.purge ?? false })}`,
        sent,
        'application/octet-stream',
      ),
  );
  printAnswer(
    context,
    status,
    () =>
      `installed ${status.id}${status.version ? ` ${status.version}` : ''}: ${stateText(status)}`,
  );
}

/** `appvisor app uninstall <id> [--force]` */
export async function appUninstall(
  context: CommandContext,
  id: string,
  options: { force?: boolean },
): Promise<void> {
  await context.client.call(
    'DELETE',
    `/apps/${encodeURIComponent(id)}${query({ force: options.force })}`,
  );
  printAnswer(context, { ok: true }, () => `uninstalled ${id}`);
}

/** `appvisor app start|stop|restart <id>` */
export async function appAction(
  context: CommandContext,
  action: 'start' | 'stop' | 'restart',
  id: string,
): Promise<void> {
  const result = await context.client.call<{ changed: boolean; status: AppStatus }>(
    'POST',
    `/apps/${encodeURIComponent(id)}/${action}`,
  );
  const done = { start: 'started', stop: 'stopped', restart: 'restarted' }[action];
  const already = { start: 'already running', stop: 'already stopped', restart: 'restarted' }[
    action
  ];
  printAnswer(
    context,
    result,
    () => `${id} ${result.changed ? done : already}: ${stateText(result.status)}`,
  );
}

/** `appvisor app status <id>` */
export async function appStatus(context: CommandContext, id: string): Promise<void> {
  printStatus(
    context,
    await context.client.call<AppStatus>('GET', `/apps/${encodeURIComponent(id)}`),
  );
}

/** A size in bytes, or with a binary suffix (`64M`, `1G`, `512Mi`); `default`: null. */
export function sizeOrDefault(value: string | undefined, flag: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'default') return null;
  const match = /^(\d+)\s*([KMGT]?)(i?B?)$/i.exec(value.trim());
  if (!match)
    throw new CliError(
      'BAD_REQUEST',
      `${flag} takes a size in bytes (or with K, M, G, T), or "default", not "${value}"`,
    );
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(match[2]!.toUpperCase());
  return Number(match[1]) * 1024 ** power;
}

function countOrDefault(value: string | undefined, flag: string): number | null | undefined {
  return value === 'default' ? null : count(value, flag);
}

/** Options of `appvisor app configure`, as commander gives them. */
export interface AppConfigureOptions {
  autostart?: string;
  logSize?: string;
  logFiles?: string;
  memory?: string;
  cpuWeight?: string;
  pids?: string;
}

/**
 * `appvisor app configure <id> [--autostart on|off] [--log-size BYTES] [--log-files N]
 * [--memory SIZE] [--cpu-weight N] [--pids N]`
 */
export async function appConfigure(
  context: CommandContext,
  id: string,
  options: AppConfigureOptions,
): Promise<void> {
  const body = {
    autostart: onOff(options.autostart, '--autostart'),
    logMaxBytes: count(options.logSize, '--log-size'),
    logFiles: count(options.logFiles, '--log-files'),
    memoryMaxBytes: sizeOrDefault(options.memory, '--memory'),
    cpuWeight: countOrDefault(options.cpuWeight, '--cpu-weight'),
    pidsMax: countOrDefault(options.pids, '--pids'),
  };
  printStatus(
    context,
    await context.client.call<AppStatus>('PATCH', `/apps/${encodeURIComponent(id)}`, body),
  );
}

/** `appvisor app list` */
export async function appList(context: CommandContext): Promise<void> {
  const { apps } = await context.client.call<{ apps: AppSummary[] }>('GET', '/apps');
  printList(context, apps, 'no apps installed', ['ID', 'VERSION', 'STATE', 'AUTOSTART'], (app) => [
    app.id,
    app.version ?? '-',
    app.runnable ? app.state : 'not runnable',
    app.autostart ? 'on' : 'off',
  ]);
}

/** `appvisor logs <app> [-f] [-n LINES]` */
export async function logs(
  context: CommandContext,
  id: string,
  options: { follow?: boolean; lines?: string },
): Promise<void> {
  const lines = count(options.lines, '-n') ?? 100;
  const response = await context.client.request(
    'GET',
    `/apps/${encodeURIComponent(id)}/logs${query({ lines, follow: options.follow ?? false })}`,
  );
  for await (const chunk of response) context.io.stdout.write(chunk as Buffer);
}

/** Registers `appvisor app`. */
export function registerApp(cli: Cli): void {
  const app = cli.program.command('app').description('install, run and supervise apps');
  app
    .command('install')
    .description('install or re-install an app from a .zip, .tar.gz or folder')
    .argument('<package>', 'package file or folder')
    .option('--id <id>', 'the app id (default: the top folder of the package)')
    .option(
      '--autostart',
      'start it now and at every manager start (a re-install keeps the setting unless given)',
    )
    .option('--no-autostart', 'do not start it with the manager')
    .option('--purge', "empty the app's data folder first")
    .action(withContext(cli, appInstall));
  app
    .command('uninstall')
    .description('stop the app and remove it with its data')
    .argument('<id>')
    .option('--force', 'also when it has instances')
    .action(withContext(cli, appUninstall));
  for (const action of ['start', 'stop', 'restart'] as const) {
    app
      .command(action)
      .description(`${action} an app`)
      .argument('<id>')
      .action(withContext(cli, (context, id: string) => appAction(context, action, id)));
  }
  app
    .command('status')
    .description("an app's state, pid, restarts and last exit")
    .argument('<id>')
    .action(withContext(cli, appStatus));
  app
    .command('configure')
    .description('change autostart, log size and resource limits; never starts or stops the app')
    .argument('<id>')
    .option('--autostart <on|off>', 'start at every manager start')
    .option('--log-size <bytes>', 'size of one log file')
    .option('--log-files <n>', 'log files kept')
    .option('--memory <size>', 'memory cap of all its processes (bytes, or 512M, 2G; "default")')
    .option('--cpu-weight <n>', 'CPU weight 1-10000, 100 = equal share ("default")')
    .option('--pids <n>', 'processes and threads at once ("default")')
    .action(withContext(cli, appConfigure));
  app.command('list').description('every installed app').action(withContext(cli, appList));
}

/** Registers `appvisor logs`. */
export function registerLogs(cli: Cli): void {
  cli.program
    .command('logs')
    .description("an app's log")
    .argument('<app>')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'lines to print first', '100')
    .action(withContext(cli, logs));
}
