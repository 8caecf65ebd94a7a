/**
 * The backup schedule: kept in the store, validated before it is, and run by a cron job that
 * backs up every instance not excluded, then applies the schedule's retention.
 */
import { Cron } from 'croner';
import { AppvisorError } from '../errors/index.js';
import { putSetting } from '../store/index.js';
import type { BackupContext } from './context.js';
import { createBackup } from './create.js';
import { checking } from './field-errors.js';
import {
  scheduleKey,
  type BackupSchedule,
  type CronScheduler,
  type ScheduledJob,
  type StoredSchedule,
} from './model.js';
import { pruneAfter } from './retention.js';
import { checkTemplate, defaultTemplate } from './template.js';

/** Croner, in UTC; `protect`: a run still going when the next is due is not started twice. */
export const cronScheduler: CronScheduler = (pattern, run) =>
  new Cron(pattern, { protect: true, timezone: 'UTC' }, async () => {
    await run();
  });

/** A change of the schedule, as the API takes it. */
export type ScheduleChange = Partial<StoredSchedule>;

/** Throws BAD_REQUEST (or TEMPLATE_INVALID) naming the field of `next` that is not valid. */
function checkSchedule(next: StoredSchedule): void {
  if (typeof next.verify !== 'boolean') {
    throw new AppvisorError('BAD_REQUEST', 'verify is true or false', { field: 'verify' });
  }
  if (next.cron !== null) {
    try {
      new Cron(next.cron, { paused: true }).stop();
    } catch (error) {
      throw new AppvisorError(
        'BAD_REQUEST',
        `"${next.cron}" is not a cron expression: ${(error as Error).message}`,
        { field: 'cron' },
      );
    }
  }
  checking('template', () => {
    checkTemplate(next.template);
  });
  if (!Number.isInteger(next.slots) || next.slots < 1 || next.slots > 1000) {
    throw new AppvisorError('BAD_REQUEST', 'slots is a whole number from 1 to 1000', {
      field: 'slots',
    });
  }
  if (!Number.isInteger(next.keep) || next.keep < 0 || next.keep > 10_000) {
    throw new AppvisorError('BAD_REQUEST', 'keep is a whole number from 0 (all) to 10000', {
      field: 'keep',
    });
  }
}

/** The schedule and its cron job. */
export class Schedules {
  readonly #ctx: BackupContext;
  readonly #cron: CronScheduler;
  #stored: StoredSchedule = {
    cron: null,
    template: defaultTemplate,
    slots: 3,
    keep: 0,
    verify: false,
    target: null,
  };
  #job: ScheduledJob | undefined;

  /** `cron` runs the job (croner in the manager). */
  constructor(ctx: BackupContext, cron: CronScheduler) {
    this.#ctx = ctx;
    this.#cron = cron;
  }

  /** The schedule as stored. */
  get stored(): StoredSchedule {
    return this.#stored;
  }

  /** Reads the stored schedule (what it lacks keeps its default) and arms it. */
  async load(): Promise<void> {
    const stored = await this.#read();
    if (stored) this.#stored = { ...this.#stored, ...stored };
    this.#arm();
  }

  /**
   * Reads the stored schedule again and arms it when another node of a cluster changed it
   * (the schedule is the platform's; each node runs it for the instances it owns). An
   * unchanged schedule keeps its job, so that a run under way is not disturbed.
   */
  async reload(): Promise<void> {
    const stored = await this.#read();
    if (!stored) return;
    const next = { ...this.#stored, ...stored };
    if (JSON.stringify(next) === JSON.stringify(this.#stored)) return;
    this.#stored = next;
    this.#arm();
  }

  /** The schedule as the store holds it; undefined when it was never set. */
  async #read(): Promise<Partial<StoredSchedule> | undefined> {
    const found = await this.#ctx.options.store.query<{ value: StoredSchedule }>(
      'SELECT value FROM settings WHERE key = $1',
      [scheduleKey],
    );
    return found.rows[0]?.value;
  }

  /** The schedule, with its next run. */
  current(): BackupSchedule {
    return {
      ...this.#stored,
      nextRun: this.#job?.nextRun()?.toISOString() ?? null,
    };
  }

  /** Changes the schedule; `cron: null` turns it off. Validated before anything is stored. */
  async set(change: ScheduleChange): Promise<BackupSchedule> {
    const next: StoredSchedule = { ...this.#stored, ...change };
    checkSchedule(next);
    // A schedule whose target is gone would fail every run: refused now instead.
    if (next.target !== null) {
      const target = next.target;
      await this.#ctx.targets.show(target);
    }
    const { store } = this.#ctx.options;
    await putSetting((text, values) => store.query(text, values), scheduleKey, next);
    this.#stored = next;
    this.#arm();
    return this.current();
  }

  /** A scheduled run: every instance not excluded; failures are alarms, not exceptions. */
  async run(): Promise<{ ok: string[]; failed: string[] }> {
    const { instances, logger } = this.#ctx.options;
    const views = instances.list({}).filter((view) => !view.excludeFromBackup);
    const result = { ok: [] as string[], failed: [] as string[] };
    await Promise.all(
      views.map(async (view) => {
        try {
          // An archive that fails its check is kept, but prunes no older one.
          const { verify, target } = this.#stored;
          const entry = await createBackup(this.#ctx, view.id, {
            verify,
            ...(target === null ? {} : { target }),
          });
          await pruneAfter(this.#ctx, entry, this.#stored);
          result.ok.push(view.id);
        } catch (error) {
          logger.warn({ instance: view.id, err: error }, 'scheduled backup failed');
          result.failed.push(view.id);
        }
      }),
    );
    return result;
  }

  /** Stops the cron job. */
  stop(): void {
    this.#job?.stop();
    this.#job = undefined;
  }

  #arm(): void {
    this.stop();
    if (this.#stored.cron === null) return;
    this.#job = this.#cron(this.#stored.cron, async () => {
      await this.run();
    });
  }
}
