import type { Manager } from './daemon.js';

/** Where the signals come from: the process (a fake in a test). */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
}

/**
 * Resolves with the exit code once the manager stopped on SIGTERM or SIGINT: 0 after a clean
 * shutdown; 1 when it failed, took longer than `shutdown.graceSeconds`, or a second signal
 * came (then what is left is destroyed at once).
 */
export function untilStopped(
  manager: Pick<Manager, 'close' | 'destroy' | 'logger' | 'config'>,
  signals: SignalSource,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let received = 0;
    const onSignal = (name: NodeJS.Signals) => {
      received++;
      if (received > 1) {
        manager.logger.warn({ signal: name }, 'second signal: stopping at once');
        manager.destroy();
        resolve(1);
        return;
      }
      manager.logger.info({ signal: name }, 'signal received');
      const timer = setTimeout(() => {
        manager.logger.error('shutdown took too long: stopping at once');
        manager.destroy();
        resolve(1);
      }, manager.config.shutdown.graceSeconds * 1000);
      manager.close().then(
        () => {
          clearTimeout(timer);
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(timer);
          manager.logger.error({ err: error }, 'shutdown failed');
          manager.destroy();
          resolve(1);
        },
      );
    };
    signals.on('SIGTERM', onSignal);
    signals.on('SIGINT', onSignal);
  });
}
