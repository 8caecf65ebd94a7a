/**
 * What must not outlive the test process: a server left running, a temp folder. A test that
 * ends without the kit's `close()` (a failed `before`, an uncaught error) leaves them behind;
 * what is registered here is undone synchronously when the process exits, and unregistered by
 * a normal close.
 */
const cleanups = new Set<() => void>();
let hooked = false;

/** Runs `cleanup` (synchronous, must not throw) at process exit; returns its unregistration. */
export function atExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const run of cleanups) {
        try {
          run();
        } catch {
          // The process is ending: nothing left to report to.
        }
      }
    });
  }
  return () => cleanups.delete(cleanup);
}
