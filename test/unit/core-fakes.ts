/**
 * Fakes of the alarms and the event log for unit tests of the core's services (they keep what
 * they are told), and the waits and checks those tests share.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pino from 'pino';
import type { ActiveAlarm, AlarmRaiser } from '../../src/core/alarms/index.js';
import { AppvisorError } from '../../src/core/errors/index.js';
import type { ManagerEvent, Severity } from '../../src/core/events/index.js';
import type { InstanceView } from '../../src/core/instances/index.js';

/** Alarms in memory, keyed by code and subject. */
export class FakeAlarms implements AlarmRaiser {
  readonly #active = new Map<string, ActiveAlarm>();
  /** Every raise and clear, as `raise code subject` / `clear code subject`. */
  readonly changes: string[] = [];

  raise(code: string, severity: Severity, text: string, subject = ''): void {
    this.changes.push(`raise ${code} ${subject}`);
    this.#active.set(`${code} ${subject}`, {
      code,
      severity,
      subject,
      text,
      since: new Date(0).toISOString(),
    });
  }

  clear(code: string, _text: string, subject = ''): void {
    if (this.#active.delete(`${code} ${subject}`)) this.changes.push(`clear ${code} ${subject}`);
  }

  active(): ActiveAlarm[] {
    return [...this.#active.values()];
  }

  /** The active alarm of that code and subject. */
  get(code: string, subject: string): ActiveAlarm | undefined {
    return this.#active.get(`${code} ${subject}`);
  }
}

/** The event log's `record`, kept in a list. */
export class FakeEvents {
  readonly recorded: ManagerEvent[] = [];

  record = (event: Omit<ManagerEvent, 'at'> & { at?: string }): ManagerEvent => {
    const full = { at: new Date(0).toISOString(), ...event };
    this.recorded.push(full);
    return full;
  };

  /** The kinds recorded, in order. */
  kinds(): string[] {
    return this.recorded.map((event) => event.kind);
  }
}

/** A logger that writes nothing. */
export const silentLogger = pino({ level: 'silent' });

/** Awaits `promise`, expecting an AppvisorError with `code` (and `field`, when given). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  field?: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppvisorError, `an AppvisorError, not ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (field !== undefined) assert.equal(error.field, field);
    return true;
  });
}

/** Lets the promises queued now settle (not what waits for the file system). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((done) => setImmediate(done));
}

/** Waits until `condition` holds (when it depends on file operations), at most 5 s. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`waited 5 s for ${what}`);
    await new Promise((done) => setTimeout(done, 2));
  }
}

const folders: string[] = [];
after(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** A new temporary folder, removed when the test file is done. */
export async function tempFolder(prefix: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

/** An instance's view as a service would show a ready one; `fields` over the defaults. */
export function fakeInstanceView(
  fields: Pick<InstanceView, 'id' | 'app'> & Partial<InstanceView>,
): InstanceView {
  return {
    domain: 'example.com',
    path: `/example.com/${fields.id}`,
    enabled: true,
    excludeFromBackup: false,
    traceFlags: [],
    traceFlagsAvailable: [],
    state: 'ready',
    error: null,
    since: '',
    createdAt: '',
    database: '',
    databaseUser: '',
    dataDir: '',
    usage: { databaseBytes: null, filesBytes: null, filesComplete: false, measuredAt: null },
    vacuum: null,
    ...fields,
  };
}
