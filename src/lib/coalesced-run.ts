/**
 * Runs a task one at a time, for work that brings something in line with the present state:
 * a call while it runs asks for one more run after it (however many calls came meanwhile),
 * never a second run at once. The task handles its own errors; one that throws anyway ends
 * its run, not the runner.
 */
export class CoalescedRun {
  readonly #task: () => Promise<void>;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(task: () => Promise<void>) {
    this.#task = task;
  }

  /** Runs the task now, or once more after the run under way; resolves when that run ends. */
  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    // Read through a call: run() sets it while the loop awaits the task.
    const again = () => this.#again && !this.#stopped;
    const loop = async (): Promise<void> => {
      do {
        this.#again = false;
        if (this.#stopped) return;
        await this.#task().catch(() => undefined);
      } while (again());
    };
    this.#running = loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** No run starts from now on; resolves when the one under way has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }
}
