/**
 * `config export` and `config import` (docs/configuration-file.md): the platform's settings,
 * certificate, stores, apps, instances, backup targets and schedule as one file, and that
 * file applied to a platform as a whole or not at all.
 */
import { KeyedQueue } from '../../lib/keyed-queue.js';
import type { Logger } from '../../lib/logger.js';
import { AppvisorError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import { parseDocument, type ConfigDocument } from './document.js';
import { exportDocument, type ExportOptions } from './export.js';
import { planImport, type PlannedChange, type Step } from './plan.js';
import type { TransferPorts } from './ports.js';
import { openSecrets } from './secrets.js';
import { checkDocument, type CurrentState } from './validate.js';

/** Options of {@link ConfigTransfer.import}. */
export interface ImportOptions {
  /** Opens the file's secrets block, when it has one. */
  passphrase?: string;
  /** Only say what would change. */
  dryRun?: boolean;
}

/** What an import did (or, in a dry run, would do). */
export interface ImportResult {
  dryRun: boolean;
  /** Whether anything was changed. */
  applied: boolean;
  changes: PlannedChange[];
}

/** Options of {@link ConfigTransfer}. */
export interface ConfigTransferOptions extends TransferPorts {
  events: Pick<EventLog, 'record'>;
  logger?: Logger;
}

/** Exports and imports the platform's configuration file. */
export class ConfigTransfer {
  readonly #options: ConfigTransferOptions;
  /** One import at a time: two would plan against the same state and undo each other. */
  readonly #queue = new KeyedQueue();

  constructor(options: ConfigTransferOptions) {
    this.#options = options;
  }

  /** The configuration as a document (secrets sealed with the passphrase when asked). */
  export(options: ExportOptions = {}): Promise<ConfigDocument> {
    return exportDocument(this.#options, options);
  }

  /**
   * Reads, checks and applies a configuration file's text. Everything is checked before the
   * first change; a step that fails then undoes every step before it, and the error is the
   * step's own (its code), saying that nothing was changed.
   */
  import(text: string, options: ImportOptions = {}): Promise<ImportResult> {
    return this.#queue.run('import', async () => {
      const document = parseDocument(text);
      const secrets = document.secrets
        ? await openSecrets(document.secrets.encrypted, options.passphrase)
        : undefined;
      const state = await this.#state();
      checkDocument(document, secrets, state, text);
      const steps = await planImport(this.#options, document, secrets, [
        ...state.instances.values(),
      ]);
      const changes = steps.map((step) => step.change);
      const work = steps.filter((step) => step.apply !== undefined);
      if (options.dryRun || work.length === 0) {
        return { dryRun: options.dryRun ?? false, applied: false, changes };
      }
      await this.#apply(work);
      this.#options.events.record({
        kind: 'config.imported',
        severity: 'info',
        subject: 'platform',
        text: `configuration imported: ${work.length} changes`,
      });
      return { dryRun: false, applied: true, changes };
    });
  }

  async #state(): Promise<CurrentState> {
    const apps = new Map(
      (await this.#options.apps.list()).map((app) => [app.id, { version: app.version }]),
    );
    const stores = new Set((await this.#options.sources.list()).map((source) => source.name));
    // On a cluster: every node's, so that the checks and the plan see the whole platform.
    const instances = new Map(
      (await this.#options.instances.list()).map((view) => [view.id, view]),
    );
    const targets = new Set(
      (await this.#options.backups.listTargets()).map((target) => target.name),
    );
    return { apps, stores, instances, targets };
  }

  async #apply(steps: Step[]): Promise<void> {
    const done: Step[] = [];
    for (const step of steps) {
      try {
        await step.apply!();
        done.push(step);
      } catch (error) {
        // The failed step is undone too: it may have done part of its work (an instance made
        // whose trace flags were then refused); each step undoes only what it made.
        const failures = await this.#undo([step, ...done.reverse()]);
        throw this.#failed(step, error, failures);
      }
    }
  }

  /** Undoes steps (newest first); returns the ones that could not be undone. */
  async #undo(steps: Step[]): Promise<string[]> {
    const failures: string[] = [];
    for (const step of steps) {
      try {
        await step.undo?.();
      } catch (error) {
        failures.push(`${step.change.text} (${(error as Error).message})`);
        this.#options.logger?.error(
          { err: error, step: step.change.text },
          'config import: a step could not be undone',
        );
      }
    }
    return failures;
  }

  #failed(step: Step, error: unknown, failures: string[]): AppvisorError {
    const cause = error instanceof AppvisorError ? error : undefined;
    const what = `${step.change.text.slice(2)}: ${cause?.message ?? (error as Error).message}`;
    if (failures.length > 0) {
      this.#options.events.record({
        kind: 'config.import-failed',
        severity: 'error',
        subject: 'platform',
        text: `configuration import failed and could not be undone completely`,
      });
      return new AppvisorError(
        'IMPORT_FAILED',
        `${what}; undoing the earlier steps failed for: ${failures.join('; ')}`,
        { cause: error },
      );
    }
    this.#options.events.record({
      kind: 'config.import-failed',
      severity: 'warning',
      subject: 'platform',
      text: 'configuration import failed; every change was undone',
    });
    const message = `${what}; every change of the import was undone`;
    return cause
      ? new AppvisorError(cause.code, message, { cause: error })
      : new AppvisorError('IMPORT_FAILED', message, { cause: error });
  }
}
