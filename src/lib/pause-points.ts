/**
 * Pauses at named steps, for tests that must kill the manager inside a known window (config
 * `testing.pauses`). Empty in production: then every pause resolves at once.
 */
export type Pause = (step: string) => Promise<void>;

/** A pause that never waits. */
export const noPause: Pause = () => Promise.resolve();

/**
 * Parses `step=ms,step=ms` (validated by the config schema) into a {@link Pause} that reports
 * each pause through `note` before it waits, so a test can see the window has begun.
 */
export function makePause(spec: string, note: (step: string) => void): Pause {
  if (spec === '') return noPause;
  const delays = new Map<string, number>();
  for (const part of spec.split(',')) {
    const [step, ms] = part.split('=');
    if (step && ms) delays.set(step, Number(ms));
  }
  return async (step) => {
    const ms = delays.get(step);
    if (ms === undefined) return;
    note(step);
    await new Promise((resolve) => setTimeout(resolve, ms));
  };
}
