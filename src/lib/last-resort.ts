/** The part of the process {@link keepAlive} uses. */
export interface ProcessEvents {
  on(event: string, listener: (error: unknown) => void): unknown;
  off(event: string, listener: (error: unknown) => void): unknown;
}

/** Where {@link keepAlive} reports what reached the process. */
export interface LastResortLog {
  error(details: { err: unknown; kind: string }, message: string): void;
}

/**
 * The manager's last resort against its own bugs: an exception nothing caught or a rejection
 * nothing handled is logged with its stack, and the manager goes on. By Node's default either
 * ends the process, and with it the front, every app's supervision and every open connection,
 * for one bad request or one stray callback. Every known path catches its own errors (request
 * handlers, servers, service channels); this only keeps one that was missed from being fatal.
 * `target` is the process (only the entry point touches it); the returned function removes the
 * handlers.
 */
export function keepAlive(target: ProcessEvents, log: LastResortLog): () => void {
  const uncaught = (error: unknown) => {
    log.error(
      { err: error, kind: 'uncaughtException' },
      'an exception escaped: the manager goes on',
    );
  };
  const unhandled = (reason: unknown) => {
    log.error(
      { err: reason, kind: 'unhandledRejection' },
      'a rejection was not handled: the manager goes on',
    );
  };
  target.on('uncaughtException', uncaught);
  target.on('unhandledRejection', unhandled);
  return () => {
    target.off('uncaughtException', uncaught);
    target.off('unhandledRejection', unhandled);
  };
}
