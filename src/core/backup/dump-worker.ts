/**
 * The pg_dump worker: runs the WebAssembly pg_dump's `main` on this thread, where blocking is
 * allowed. libpq's socket reads and writes come here through the two callbacks of
 * `_pgl_set_rw_cbs`; writes are posted to the main thread, which owns the real TCP socket, and
 * reads block on the shared ring until the main thread has put socket data into it. The dump
 * goes to an Emscripten device whose writes are batched and posted, pausing while the
 * consumer is behind (see channel.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  inputState,
  openChannel,
  outputBatchBytes,
  outputCreditBytes,
  readRing,
  slot,
} from './channel.js';
import { instantiatePgDump, type PgDumpModule } from './pg-dump-module.js';
import { dumpDevicePath, type WorkerJob, type WorkerMessage } from './worker-protocol.js';

const job = workerData as WorkerJob;
const port = parentPort!;
const channel = openChannel(job.channel);
const { control } = channel;
/** Waits are bounded so that a lost wake-up can only delay, never hang. */
const waitMs = 1000;
/** The tail of pg_dump's stderr kept for the error message. */
const stderrLimit = 16 * 1024;
/** The module's own home folder and password file (its virtual file system, not the host's). */
const home = '/home/appvisor';
const passFile = `${home}/.pgpass`;

function post(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function cancelled(): boolean {
  return Atomics.load(control, slot.cancelled) !== 0;
}

let stdout = '';
let stderr = '';
function appendStderr(text: string): void {
  stderr += `${text}\n`;
  if (stderr.length > stderrLimit) stderr = stderr.slice(-stderrLimit);
}

/** Whether the last read returned bytes: see {@link readCallback}. */
let lastReadGotData = false;

/**
 * libpq's recv(). libpq expects a non-blocking socket: after a read it may read again at once
 * to see whether more of a long message is there (pqReadData's "long message" loop) and takes 0
 * as "nothing now" when an earlier read of that call got bytes. A read that blocked there would
 * wait for bytes the server never sends. So an empty ring answers 0 at once when the previous
 * read got bytes; otherwise the read blocks until at least one byte is there (libpq asks again
 * after a 0 because its poll() always answers "ready"). 0 after a 0 is end of stream: the
 * socket ended or failed, or the dump was cancelled, which libpq reports as the server having
 * closed the connection.
 */
function readCallback(module: PgDumpModule, pointer: number, length: number): number {
  for (;;) {
    const wake = Atomics.load(control, slot.wake);
    const count = readRing(channel, module.HEAPU8.subarray(pointer, pointer + length));
    if (count > 0) {
      if (Atomics.compareExchange(control, slot.wantSpace, 1, 0) === 1) post({ type: 'space' });
      lastReadGotData = true;
      return count;
    }
    if (lastReadGotData) {
      lastReadGotData = false;
      return 0;
    }
    if (cancelled() || Atomics.load(control, slot.state) !== inputState.open) return 0;
    Atomics.wait(control, slot.wake, wake, waitMs);
  }
}

/** libpq's send(): the bytes are copied and posted; the socket write happens on the main thread. */
function writeCallback(module: PgDumpModule, pointer: number, length: number): number {
  if (cancelled()) return -1;
  const data = module.HEAPU8.slice(pointer, pointer + length);
  post({ type: 'send', data }, [data.buffer]);
  return length;
}

const batch = new Uint8Array(outputBatchBytes);
let batchLength = 0;

/** Posts the output batch once the consumer has room for it. */
function flushOutput(): void {
  if (batchLength === 0) return;
  for (;;) {
    const pending = Atomics.load(control, slot.outPending);
    if (pending === 0 || pending + batchLength <= outputCreditBytes) break;
    if (cancelled()) return;
    Atomics.wait(control, slot.outPending, pending, waitMs);
  }
  const data = batch.slice(0, batchLength);
  batchLength = 0;
  Atomics.add(control, slot.outPending, data.length);
  post({ type: 'output', data }, [data.buffer]);
}

function writeOutput(buffer: Uint8Array, offset: number, length: number): number {
  let done = 0;
  while (done < length) {
    const count = Math.min(length - done, batch.length - batchLength);
    batch.set(buffer.subarray(offset + done, offset + done + count), batchLength);
    batchLength += count;
    done += count;
    if (batchLength === batch.length) flushOutput();
  }
  return length;
}

async function main(): Promise<void> {
  let exitCode: number | undefined;
  const { module } = await instantiatePgDump({
    noExitRuntime: false,
    // find_my_exec() checks that its own binary exists; one is made below.
    thisProgram: '/usr/bin/pg_dump',
    print: (text) => {
      stdout += `${text}\n`;
    },
    printErr: appendStderr,
    onExit: (status) => {
      exitCode = status;
    },
    preRun: [
      ({ ENV }) => {
        ENV.HOME = home;
        ENV.USER = 'appvisor';
        ENV.LOGNAME = 'appvisor';
        ENV.TZ = 'UTC';
        if (job.password !== undefined) ENV.PGPASSFILE = passFile;
      },
    ],
  });
  const { FS } = module;
  FS.mkdirTree('/usr/bin');
  FS.writeFile('/usr/bin/pg_dump', '', { mode: 0o755 });
  FS.mkdirTree(home);
  if (job.password !== undefined) {
    // libpq ignores a password file that others may read, so 0600 as for a real one. The
    // wildcards are fine: this file exists for this one connection.
    const escaped = job.password.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
    FS.writeFile(passFile, `*:*:*:*:${escaped}\n`, { mode: 0o600 });
    FS.chmod(passFile, 0o600);
  }
  const device = FS.makedev(64, 0);
  FS.registerDevice(device, {
    open: () => undefined,
    close: () => {
      flushOutput();
    },
    write: (_stream, buffer, offset, length) => writeOutput(buffer, offset, length),
    fsync: () => {
      flushOutput();
      return 0;
    },
    llseek: () => 0,
  });
  FS.mkdev(dumpDevicePath, 0o600, device);
  module._pgl_set_rw_cbs(
    module.addFunction((pointer, length) => readCallback(module, pointer, length), 'iii'),
    module.addFunction((pointer, length) => writeCallback(module, pointer, length), 'iii'),
  );
  let returned: number;
  try {
    returned = module.callMain(job.args);
  } catch (error) {
    post({ type: 'failed', message: `pg_dump crashed: ${String(error)}`, stderr });
    return;
  }
  flushOutput();
  post({ type: 'exit', code: exitCode ?? returned, stdout, stderr });
}

main().catch((error: unknown) => {
  post({
    type: 'failed',
    message: error instanceof Error ? error.message : String(error),
    stderr,
  });
});
