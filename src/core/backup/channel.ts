/**
 * The shared memory between the main thread and the pg_dump worker.
 *
 * libpq inside the worker calls its read callback synchronously and expects bytes back, so the
 * worker cannot wait for a message event: it blocks with `Atomics.wait` until the main thread
 * has copied socket data into the input ring. The ring is single-producer (main thread) and
 * single-consumer (worker); head and tail are byte counters that wrap modulo 2^32, so
 * `(head - tail) | 0` is always the number of unread bytes.
 *
 * The same block carries the output credit: the bytes of dump the worker has posted that the
 * main thread has not yet handed to the consumer. The worker waits while it is over the limit,
 * which is what keeps a slow consumer from making the process buffer the whole dump.
 */

/** Indexes into the control array. */
export const slot = {
  /** Bytes written into the ring by the main thread (wrapping counter). */
  head: 0,
  /** Bytes read from the ring by the worker (wrapping counter). */
  tail: 1,
  /** {@link inputState}. */
  state: 2,
  /** Bumped (and notified) on every change the reading worker must see. */
  wake: 3,
  /** Set by the main thread when socket data waits for ring space; the worker answers. */
  wantSpace: 4,
  /** Dump bytes posted by the worker and not yet pushed to the output stream. */
  outPending: 5,
  /** Set when the dump is cancelled: every wait in the worker gives up. */
  cancelled: 6,
} as const;

const slots = 8;

/** What the socket is doing, as the reading worker sees it. */
export const inputState = { open: 0, ended: 1 } as const;

/** Ring size: a power of two, well above libpq's 16 kB read buffer. */
export const ringBytes = 256 * 1024;

/** Output bytes in flight (posted, not yet taken by the consumer) before the worker pauses. */
export const outputCreditBytes = 1024 * 1024;

/** Output is posted in batches of this size (the C library writes in small pieces). */
export const outputBatchBytes = 128 * 1024;

/** The shared block and its two views. */
export interface Channel {
  buffer: SharedArrayBuffer;
  control: Int32Array;
  ring: Uint8Array;
}

/** A new channel for one dump. */
export function createChannel(): Channel {
  const buffer = new SharedArrayBuffer(slots * 4 + ringBytes);
  return openChannel(buffer);
}

/** Views on a channel made by {@link createChannel} (in the other thread). */
export function openChannel(buffer: SharedArrayBuffer): Channel {
  return {
    buffer,
    control: new Int32Array(buffer, 0, slots),
    ring: new Uint8Array(buffer, slots * 4, ringBytes),
  };
}

/** Wakes a worker blocked in a read. */
export function wakeReader(channel: Channel): void {
  Atomics.add(channel.control, slot.wake, 1);
  Atomics.notify(channel.control, slot.wake);
}

/**
 * Main thread: copies as much of `data` into the ring as fits and wakes the reader.
 * Returns how many bytes were taken.
 */
export function writeRing(channel: Channel, data: Uint8Array): number {
  const { control, ring } = channel;
  const head = Atomics.load(control, slot.head);
  const tail = Atomics.load(control, slot.tail);
  const free = ringBytes - ((head - tail) | 0);
  const count = Math.min(free, data.length);
  if (count === 0) return 0;
  const start = (head >>> 0) % ringBytes;
  const first = Math.min(count, ringBytes - start);
  ring.set(data.subarray(0, first), start);
  if (count > first) ring.set(data.subarray(first, count), 0);
  Atomics.store(control, slot.head, (head + count) | 0);
  wakeReader(channel);
  return count;
}

/** Worker: copies up to `into.length` unread bytes out of the ring; 0 when none are there. */
export function readRing(channel: Channel, into: Uint8Array): number {
  const { control, ring } = channel;
  const head = Atomics.load(control, slot.head);
  const tail = Atomics.load(control, slot.tail);
  const count = Math.min((head - tail) | 0, into.length);
  if (count <= 0) return 0;
  const start = (tail >>> 0) % ringBytes;
  const first = Math.min(count, ringBytes - start);
  into.set(ring.subarray(start, start + first), 0);
  if (count > first) into.set(ring.subarray(0, count - first), first);
  Atomics.store(control, slot.tail, (tail + count) | 0);
  return count;
}
