/**
 * A message channel between a service and the manager. The SDK talks through this interface
 * only, so tests (and apps hosted some other way) can replace the process's IPC channel.
 */
export interface Channel {
  /** Sends one message. Must not throw when the other side is gone: the message is dropped. */
  send(message: object): void;
  /** Called with every message received, in order; `handle` is a socket passed along with it. */
  onMessage(listener: (message: unknown, handle?: unknown) => void): void;
  /** Called once when the channel has closed (the manager is gone or disconnected us). */
  onClose(listener: () => void): void;
}

/**
 * The process's Node IPC channel (the manager starts services with one: `NODE_CHANNEL_FD`,
 * JSON serialization). Throws when the process has none, i.e. it was not started by the manager
 * as a service (app.json `instances: true`).
 */
export function processChannel(): Channel {
  const send = process.send?.bind(process);
  if (send === undefined) {
    throw new Error(
      'this process has no IPC channel: services are started by appvisor (app.json "instances": true)',
    );
  }
  return {
    send(message) {
      // process.send on a closed channel emits 'error' on `process`, which would crash an app
      // that does not listen for it: check first, and take any error through the callback.
      if (!process.connected) return;
      send(message, undefined, {}, () => undefined);
    },
    onMessage(listener) {
      process.on('message', (message, handle) => {
        listener(message, handle);
      });
    },
    onClose(listener) {
      if (!process.connected) {
        queueMicrotask(listener);
        return;
      }
      process.once('disconnect', listener);
    },
  };
}
