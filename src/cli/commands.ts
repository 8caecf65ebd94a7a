import { createInterface } from 'node:readline';
import type { StatusReport } from '../api/index.js';
import type { ApiClient } from './client.js';
import { bytes, duration, printJson, table, type Io } from './output.js';

/** Everything a command needs: the client, output, and whether to print JSON. */
export interface CommandContext {
  client: ApiClient;
  io: Io;
  json: boolean;
}

/** `appvisor status` */
export async function status(context: CommandContext): Promise<void> {
  const report = await context.client.call<StatusReport>('GET', '/status');
  if (context.json) {
    printJson(context.io, report);
    return;
  }
  const { manager, database, system, apps, alarms, backup } = report;
  const counts = new Map<string, number>();
  for (const app of apps) {
    const state = app.runnable ? app.state : 'not runnable';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const appsText =
    apps.length === 0
      ? 'none installed'
      : `${apps.length} installed: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`;
  const listen = manager.listen.map((a) => `${a.scheme} :${a.port}`).join(', ');
  const rows = [
    [
      'manager',
      `${manager.state}, pid ${manager.pid}, up ${duration(manager.uptimeSeconds)}, version ${manager.version}`,
    ],
    [
      'database',
      [
        database.state,
        `${database.mode} PostgreSQL ${database.version ?? '?'} on ${database.host}:${database.port}`,
        ...(database.restarts ? [`${database.restarts} restarts`] : []),
      ].join(', '),
    ],
    [
      'system',
      [
        `cpu ${system.cpu.percent}% of ${system.cpu.cores} cores`,
        `load ${system.load.map((l) => l.toFixed(2)).join(' ')}`,
        `memory ${bytes(system.memory.usedBytes)} of ${bytes(system.memory.totalBytes)} used`,
        `disk ${bytes(system.disk.freeBytes)} free of ${bytes(system.disk.totalBytes)}`,
      ].join(', '),
    ],
    ['apps', appsText],
    [
      'limits',
      `${report.limits.enforcement}${report.limits.reason ? ` (${report.limits.reason})` : ''}; per app by default: memory ${bytes(report.limits.defaults.memoryMaxBytes)}, cpu weight ${report.limits.defaults.cpuWeight}, ${report.limits.defaults.pidsMax} processes`,
    ],
    ['backup', backup.error ?? (backup.version ? `${backup.version} (WebAssembly)` : 'checking')],
    ['front', listen],
    ['admin', manager.admin ? `${manager.admin.scheme} :${manager.admin.port}` : 'not listening'],
    ['data', manager.dataDir],
    ['alarms', alarms.length === 0 ? 'none' : String(alarms.length)],
    [
      'updates',
      report.updates.checkedAt === null
        ? 'not checked yet'
        : report.updates.updates.length === 0
          ? 'none available'
          : report.updates.updates
              .map((u) => `${u.app} ${u.available.version} (${u.available.label})`)
              .join(', '),
    ],
  ];
  const lines = [table(rows)];
  for (const alarm of alarms)
    lines.push(`  ${alarm.severity} ${alarm.code} ${alarm.subject}: ${alarm.text}`);
  context.io.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Reads answers line by line from one reader (a second reader on a pipe would lose what the
 * first one buffered); prompts go to a terminal only. A missing line reads as ''.
 */
function lineReader(io: Io): { ask(prompt: string): Promise<string>; close(): void } {
  io.stdin.setRawMode?.(false);
  const rl = createInterface({ input: io.stdin, terminal: false });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let ended = false;
  rl.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else lines.push(line);
  });
  rl.once('close', () => {
    ended = true;
    for (const next of waiting.splice(0)) next('');
  });
  return {
    ask(prompt) {
      if (io.stdin.isTTY) io.stderr.write(prompt);
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.resolve('');
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() {
      rl.close();
    },
  };
}

/** Reads a new password: from a terminal asked twice, else the next line of stdin. */
async function readPassword(io: Io, reader: ReturnType<typeof lineReader>): Promise<string> {
  const first = await reader.ask('new admin password: ');
  if (io.stdin.isTTY) {
    const second = await reader.ask('again: ');
    if (first !== second) throw new Error('the two passwords differ');
  }
  return first;
}

/** `appvisor admin password [--set]` */
export async function adminPassword(
  context: CommandContext,
  options: { set?: boolean },
): Promise<void> {
  const body: { current?: string; password?: string } = {};
  if (options.set || !context.client.local) {
    const reader = lineReader(context.io);
    try {
      // Over a URL the manager wants the current password too (the first line when piped).
      if (!context.client.local) body.current = await reader.ask('current admin password: ');
      if (options.set) body.password = await readPassword(context.io, reader);
    } finally {
      reader.close();
    }
  }
  const answer = await context.client.call<{ password?: string }>('PUT', '/admin/password', body);
  if (context.json) {
    printJson(context.io, answer);
    return;
  }
  if (answer.password) {
    context.io.stdout.write(
      `new admin password: ${answer.password}\n(shown only now; every login was ended)\n`,
    );
  } else {
    context.io.stdout.write('admin password changed; every login was ended\n');
  }
}
