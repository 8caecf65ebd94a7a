/**
 * Fault injection on a test daemon's embedded PostgreSQL: the postmaster's pid as the server
 * itself writes it, a `kill -9`, and the status the manager reports.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatusReport } from '../../src/api/index.js';
import { http, installNodeService, type Daemon, type HttpAnswer } from './daemon.js';

/** GET /status over the manager's socket. */
export async function statusOf(daemon: Daemon): Promise<StatusReport> {
  const answer = await http('GET', { socket: daemon.socket }, '/manager/api/v1/status');
  if (answer.status !== 200) throw new Error(`status: ${answer.status} ${answer.text}`);
  return answer.body as StatusReport;
}

/**
 * The postmaster's pid, read from `postmaster.pid` in the cluster folder (its first line), not
 * from the manager: the test must hit the process the server says is its own.
 */
export async function postmasterPid(daemon: Daemon): Promise<number> {
  const cluster = (await statusOf(daemon)).database.cluster;
  if (!cluster) throw new Error('the daemon runs no embedded database');
  const text = await readFile(join(cluster, 'postmaster.pid'), 'utf8');
  const pid = Number(text.split('\n')[0]);
  if (!(pid > 0)) throw new Error(`postmaster.pid holds no pid: ${JSON.stringify(text)}`);
  return pid;
}

/** `kill -9` of the postmaster; returns the pid it had. */
export async function killPostmaster(daemon: Daemon): Promise<number> {
  const pid = await postmasterPid(daemon);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Throws when the manager process has ended, with the end of its stderr. */
export function assertAlive(daemon: Daemon): void {
  const { exitCode, signalCode } = daemon.child;
  if (exitCode !== null || signalCode !== null) {
    throw new Error(
      `the manager ended (${exitCode ?? signalCode}):\n${daemon.stderr().split('\n').slice(-20).join('\n')}`,
    );
  }
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined, like
 * `eventually`, but fails at once when the manager ends meanwhile (a check that throws counts
 * as "not yet"). The timeout's error says `what` and the last thing seen (`describe`).
 */
export async function whileAlive<T>(
  daemon: Daemon,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; what: string; everyMs?: number; last?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    assertAlive(daemon);
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    assertAlive(daemon);
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${options.what}${options.last ? `: ${options.last()}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 100));
  }
}

/**
 * Waits until the database server runs again after at least `restarts` restarts, failing at once
 * when the manager ends meanwhile.
 */
export async function databaseBack(
  daemon: Daemon,
  restarts: number,
  timeoutMs = 90_000,
): Promise<StatusReport> {
  let seen: StatusReport | undefined;
  return whileAlive(
    daemon,
    async () => {
      seen = await statusOf(daemon);
      return seen.database.state === 'running' && seen.database.restarts >= restarts
        ? seen
        : undefined;
    },
    {
      timeoutMs,
      what: `the database back after ${restarts} restarts`,
      last: () => JSON.stringify(seen?.database),
    },
  );
}

/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same kill times,
 * so a failing run can be repeated.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Installs (autostart) and waits for `alarmer`, a service that raises and clears an alarm of its
 * own every `everyMs`: it keeps the alarm flush writing to the store. Start the daemon with
 * `services.alarms.perSecond` and `.burst` high enough.
 */
export async function installAlarmer(daemon: Daemon, everyMs: number): Promise<void> {
  const main = `process.on('message', () => {});
process.send({ type: 'ready', httpSocket: null });
let n = 0;
setInterval(() => {
  n++;
  process.send({ type: 'alarm', code: 'blink', severity: 'warning', text: 'blink ' + n, active: n % 2 === 1 });
}, ${everyMs});
`;
  await installNodeService(daemon, 'alarmer', main);
}

/** What busy loops saw: answers by status, and the unexpected ones in full. */
export interface Tally {
  byStatus: Map<number, number>;
  unexpected: string[];
}

export function newTally(): Tally {
  return { byStatus: new Map(), unexpected: [] };
}

/**
 * Runs `work` over and over (`pauseMs` apart) until `stop.done`; an answer whose status is not
 * in `expected`, or a 503 without Retry-After, is kept in the tally. A request that fails (the
 * manager gone) ends the loop and is kept too.
 */
export async function busyLoop(
  stop: { done: boolean },
  tally: Tally,
  expected: number[],
  work: (n: number) => Promise<HttpAnswer>,
  pauseMs = 0,
): Promise<void> {
  for (let n = 0; !stop.done; n++) {
    try {
      const answer = await work(n);
      tally.byStatus.set(answer.status, (tally.byStatus.get(answer.status) ?? 0) + 1);
      if (!expected.includes(answer.status)) {
        tally.unexpected.push(`${answer.status} ${answer.text.slice(0, 300)}`);
      } else if (answer.status === 503 && !answer.headers['retry-after']) {
        tally.unexpected.push(`503 without Retry-After: ${answer.text.slice(0, 300)}`);
      }
    } catch (error) {
      tally.unexpected.push(`request failed: ${(error as Error).message}`);
      return;
    }
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
