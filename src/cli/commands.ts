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

/** Reads a password: without echo from a terminal (asked twice), else the first line of stdin. */
async function readPassword(io: Io): Promise<string> {
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: io.stdin, terminal: false });
      if (io.stdin.isTTY) io.stderr.write(prompt);
      io.stdin.setRawMode?.(false);
      rl.once('line', (line) => {
        // resolve before close(): close() emits 'close' at once, which would resolve ''.
        resolve(line);
        rl.close();
      });
      rl.once('close', () => {
        resolve('');
      });
    });
  const first = await ask('new admin password: ');
  if (io.stdin.isTTY) {
    const second = await ask('again: ');
    if (first !== second) throw new Error('the two passwords differ');
  }
  return first;
}

/** `appvisor admin password [--set]` */
export async function adminPassword(
  context: CommandContext,
  options: { set?: boolean },
): Promise<void> {
  const body = options.set ? { password: await readPassword(context.io) } : {};
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
