import { join } from 'node:path';
import type { Config } from '../core/config/index.js';
import type { DataDir } from '../core/datadir/index.js';
import type { Front } from '../core/front/index.js';
import { ComponentGroup, type Component } from '../lib/lifecycle.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { makePause } from '../lib/pause-points.js';
import { RotatingFile } from '../lib/rotating-file.js';
import { version } from '../lib/version.js';
import type { Basis } from './basis.js';

/** Where the manager writes what it says before its log file exists, and beside it after. */
export interface Console {
  write(text: string): unknown;
}

/** How a {@link partOf} starts, closes and is destroyed; each may be left out. */
export interface PartSteps {
  start?: () => Promise<void> | void;
  close?: () => Promise<void>;
  destroy?: () => void;
}

/**
 * A part of the manager made of steps (a link made between two parts, a server bound
 * earlier): it takes its place in the start order like any component. Closed once.
 */
export function partOf(name: string, steps: PartSteps): Component {
  let closing: Promise<void> | undefined;
  return {
    name,
    start: async () => {
      await steps.start?.();
    },
    close: () => (closing ??= steps.close?.() ?? Promise.resolve()),
    destroy: () => {
      steps.destroy?.();
    },
  };
}

/**
 * The front's ports, bound as the first part: a taken port fails the start before anything
 * is made, and they are closed last. The front serves later, as a part of its own.
 */
export function portsOf(front: Pick<Front, 'bind' | 'close' | 'destroy'>): Component {
  return partOf('front ports', {
    start: () => front.bind(),
    close: () => front.close(),
    destroy: () => {
      front.destroy();
    },
  });
}

/**
 * The manager's parts in start order. Each is closed in reverse order when the manager stops,
 * or when a later part fails to start; the log file is closed after all of them, so that it
 * has the last word.
 */
export class ManagerParts {
  readonly #group = new ComponentGroup();
  readonly #console: Console;
  /** Errors that escape the listeners' handlers: stderr only, from the very first moment. */
  readonly consoleLogger: Logger;
  #logFile: RotatingFile | undefined;
  #logger: Logger;

  constructor(console: Console) {
    this.#console = console;
    this.consoleLogger = createLogger({ level: 'warn', file: console });
    this.#logger = this.consoleLogger;
  }

  /** Starts a part now; it is closed with the others, in reverse start order. */
  start<T extends Component>(part: T): Promise<T> {
    return this.#group.startOne(part);
  }

  /**
   * Opens `<logs>/manager.log` in the started data folder (warnings go to the console too)
   * and gives what every later part is configured from.
   */
  openLog(config: Config, dataDir: DataDir, isRoot: boolean): Basis {
    const { layout } = dataDir;
    this.#logFile = new RotatingFile({
      path: join(layout.logs, 'manager.log'),
      maxBytes: config.log.maxBytes,
      files: config.log.files,
    });
    const logger = createLogger({
      level: config.log.level,
      file: this.#logFile,
      console: this.#console,
    });
    this.#logger = logger;
    logger.info({ version, pid: process.pid, data: layout.root }, 'manager starting');
    return {
      config,
      layout,
      nodeId: dataDir.nodeId,
      secretKey: dataDir.secretKey,
      isRoot,
      logger,
      pause: makePause(config.testing.pauses, (step) => {
        logger.warn({ step }, `test pause at ${step}`);
      }),
    };
  }

  /** Closes every part in reverse start order, logs `lastWords`, then closes the log file. */
  async close(lastWords?: string): Promise<void> {
    try {
      await this.#group.close();
    } finally {
      if (lastWords !== undefined) this.#logger.info(lastWords);
      await this.#logFile?.close();
    }
  }

  /** Tears every part down at once. */
  destroy(): void {
    this.#group.destroy();
  }
}
