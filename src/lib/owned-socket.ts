import { constants, fstatSync, openSync, closeSync } from 'node:fs';
import { connect, Socket } from 'node:net';

/**
 * `O_PATH` of Linux (x86, arm, riscv and most others; alpha, parisc and sparc differ). An
 * `O_PATH | O_NOFOLLOW` open of a symbolic link gives a descriptor of the link itself, never
 * of its target, so `fstat` tells a link from a socket without a race.
 */
const O_PATH = 0o10000000;

/** Why {@link connectOwnedSocket} refused a path. */
export class SocketRefusedError extends Error {
  readonly code = 'SOCKET_REFUSED';
}

/**
 * Connects to the Unix socket at `path` only if the path's last component is a socket (not a
 * link to one) owned by `uid`. The check and the connection use one descriptor: the socket
 * file is opened with `O_PATH | O_NOFOLLOW`, checked with `fstat`, and connected to through
 * `/proc/self/fd/N`, so a process that owns the folder cannot swap in a link or another socket
 * between the check and the connect. Used by the manager (root) to reach a service's socket in a
 * folder the service owns: a link there to the admin socket, to PostgreSQL's socket or to
 * another app's socket is refused.
 *
 * Errors (a refusal, a missing file) are emitted on the returned socket, as a failed connect
 * would be.
 */
export function connectOwnedSocket(path: string, uid: number): Socket {
  let fd: number;
  try {
    fd = openSync(path, O_PATH | constants.O_NOFOLLOW);
  } catch (error) {
    return failed(error as Error);
  }
  let socket: Socket;
  try {
    const stat = fstatSync(fd);
    if (!stat.isSocket()) {
      throw new SocketRefusedError(`${path} is not a socket`);
    }
    if (stat.uid !== uid) {
      throw new SocketRefusedError(`${path} belongs to uid ${stat.uid}, not ${uid}`);
    }
    socket = connect(`/proc/self/fd/${fd}`);
  } catch (error) {
    closeSync(fd);
    return failed(error as Error);
  }
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  // The path is resolved by connect(2); after it, or if the socket never gets that far, the
  // descriptor has done its job.
  socket.once('connect', release);
  socket.once('close', release);
  return socket;
}

/** A socket that fails with `error` on the next tick, as an unreachable address would. */
function failed(error: Error): Socket {
  const socket = new Socket();
  process.nextTick(() => socket.destroy(error));
  return socket;
}
