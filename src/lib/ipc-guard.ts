import type { ChildProcess } from 'node:child_process';

/** Why {@link guardIpcChannel} ended a channel. */
export type ChannelViolation = 'oversize' | 'malformed' | 'forged';

/** Options of {@link guardIpcChannel}. */
export interface IpcGuardOptions {
  /** Longest message (one JSON line) accepted, in characters; a longer one ends the channel. */
  maxMessageBytes: number;
  /** Called once, after the channel was closed and the child killed, with the reason. */
  onViolation: (reason: ChannelViolation, detail: string) => void;
}

const symbolNamed = (target: object, name: string): symbol | undefined =>
  Object.getOwnPropertySymbols(target).find((symbol) => symbol.description === name);

/**
 * Protects this process from the other end of a Node IPC channel in JSON mode (a child that
 * may be hostile). Node reads that channel without bounds and trusts what it reads:
 * - a line without an end is kept in one growing string (a 600 MB line ends this process
 *   with an out-of-memory or string-length error);
 * - a line that is not JSON throws out of Node's read callback: an uncaught exception;
 * - `NODE_*` messages drive Node's own handle passing; a forged `NODE_HANDLE` or an unasked
 *   `NODE_HANDLE_ACK` fails an internal assertion: also an uncaught exception.
 * This wraps the channel's read callback and the child's `emit` to catch all three; any of
 * them closes the channel, kills the child with SIGKILL (`kill` is given the whole process
 * group when `group` is set) and reports once. `NODE_HANDLE_ACK`/`NACK` are let through
 * while a handle sent by this process waits for one (Node keeps `_handleQueue` then).
 *
 * It reaches into Node's internals (the channel handle and its JSON buffer, named by symbol
 * descriptions); when they are not found it guards what it can and returns false.
 */
export function guardIpcChannel(
  child: ChildProcess,
  options: IpcGuardOptions,
  kill: () => void = () => child.kill('SIGKILL'),
): boolean {
  let ended = false;
  const end = (reason: ChannelViolation, detail: string) => {
    if (ended) return;
    ended = true;
    try {
      kill();
    } catch {
      // already gone
    }
    try {
      if (child.connected) child.disconnect();
    } catch {
      // already closed
    }
    options.onViolation(reason, detail);
  };

  // Node's own messages: only the acknowledgements of a handle this side sent.
  const emit = child.emit.bind(child);
  child.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'internalMessage') {
      const [message, handle] = args as [{ cmd?: unknown } | null, { close?: () => void }?];
      const cmd = typeof message?.cmd === 'string' ? message.cmd : '';
      const awaited = Array.isArray((child as unknown as { _handleQueue?: unknown })._handleQueue);
      if (ended || !awaited || (cmd !== 'NODE_HANDLE_ACK' && cmd !== 'NODE_HANDLE_NACK')) {
        handle?.close?.();
        end('forged', `an internal message (${cmd.slice(0, 40) || 'no cmd'}) it may not send`);
        return false;
      }
    }
    if (event === 'message' && ended) return false;
    return emit(event, ...args);
  }) as typeof child.emit;

  const handleSymbol = symbolNamed(child, 'kChannelHandle');
  const channel = handleSymbol
    ? (child as unknown as Record<symbol, Record<string | symbol, unknown> | undefined>)[
        handleSymbol
      ]
    : undefined;
  const bufferSymbol = channel ? symbolNamed(channel, 'kJSONBuffer') : undefined;
  const read = channel?.onread;
  if (!channel || !bufferSymbol || typeof read !== 'function') return false;
  channel.onread = function guardedRead(this: unknown, ...args: unknown[]) {
    if (ended) return undefined;
    let result: unknown;
    try {
      result = (read as (...a: unknown[]) => unknown).apply(this, args);
    } catch (error) {
      end('malformed', `a message that is not JSON (${(error as Error).message.slice(0, 80)})`);
      return undefined;
    }
    const pending = channel[bufferSymbol];
    if (typeof pending === 'string' && pending.length > options.maxMessageBytes) {
      channel[bufferSymbol] = '';
      end('oversize', `a message longer than ${options.maxMessageBytes} bytes`);
    }
    return result;
  };
  return true;
}
