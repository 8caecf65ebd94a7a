/**
 * A tar file written in one pass when its members' sizes are not known in advance: each
 * member's 512-byte header block is reserved, its data streamed right after it, and the header
 * written into the reserved block once the data has ended (a positioned write). Nothing is
 * copied, so a member costs one write of its bytes. The result is a plain ustar file (sizes
 * above 8 GiB use the base-256 form of the size field, which GNU tar and node-tar read).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { Header } from 'tar';

/** Tar's block: headers are one, data is padded to a multiple. */
export const tarBlock = 512;

/** Bytes after the last member: two zero blocks. */
const endBlocks = 2 * tarBlock;

/** `size` rounded up to whole blocks. */
export function blocksOf(size: number): number {
  return Math.ceil(size / tarBlock) * tarBlock;
}

/** What a member's header says besides its name and size. */
export interface MemberInfo {
  /** Permission bits (0600 by default). */
  mode?: number;
  /** Modification time (now by default). */
  mtime?: Date;
}

/** Where a member was written in the file. */
export interface MemberPlace {
  /** Offset of its data (its header is the block before). */
  offset: number;
  size: number;
}

/** The header block of a regular file member, as `tar.create({ portable: true })` writes it. */
export function fileHeader(name: string, size: number, info: MemberInfo = {}): Buffer {
  // Only the size may need more than the header's fields (base-256, read by every current
  // tar); a name that does not fit would need a pax header, which this writer does not make.
  if (Buffer.byteLength(name) > 100) throw new RangeError(`tar member name too long: ${name}`);
  const block = Buffer.alloc(tarBlock);
  const header = new Header({
    path: name,
    mode: info.mode ?? 0o600,
    size,
    mtime: info.mtime ?? new Date(),
    type: 'File',
  });
  header.encode(block, 0);
  return block;
}

/**
 * A tar file being written at `path` (created, never replacing a file). Members are added in
 * order; {@link InPlaceTar.finish} writes the end blocks and fsyncs; {@link InPlaceTar.close}
 * closes (also after an error, leaving the file to the caller to remove).
 */
export class InPlaceTar {
  readonly #handle: FileHandle;
  /** Where the next member's header goes. */
  #end = 0;
  #closed = false;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Creates the file (`wx`, mode 0600). */
  static async create(path: string, mode = 0o600): Promise<InPlaceTar> {
    return new InPlaceTar(await open(path, 'wx', mode));
  }

  /** Bytes of the file so far (headers, data and padding of the members added). */
  get size(): number {
    return this.#end;
  }

  /**
   * Adds a member whose data `fill` streams into the writable it is given (it resolves once
   * its pipeline into it has finished). Its header is written after, with the size that was
   * written. Answers where the data is.
   */
  async append(
    name: string,
    fill: (out: Writable) => Promise<void>,
    info: MemberInfo = {},
  ): Promise<MemberPlace> {
    const offset = this.#end + tarBlock;
    const out = new PositionedWriter((chunks, at) => this.#writev(chunks, at), offset);
    await fill(out);
    const size = out.position - offset;
    await this.#write(fileHeader(name, size, info), this.#end);
    const padding = blocksOf(size) - size;
    if (padding > 0) await this.#write(Buffer.alloc(padding), offset + size);
    this.#end = offset + blocksOf(size);
    return { offset, size };
  }

  /**
   * Reserves a member of exactly `size` bytes to be written later by the function answered
   * (its content must be `size` bytes long): for a member that describes the ones after it.
   */
  reserve(name: string, size: number, info: MemberInfo = {}): (content: Buffer) => Promise<void> {
    const at = this.#end;
    this.#end = at + tarBlock + blocksOf(size);
    return async (content) => {
      if (content.length !== size) {
        throw new RangeError(`${name} is ${content.length} bytes, ${size} were reserved`);
      }
      const block = Buffer.alloc(tarBlock + blocksOf(size));
      fileHeader(name, size, info).copy(block, 0);
      content.copy(block, tarBlock);
      await this.#write(block, at);
    };
  }

  /** Writes the end blocks and, unless `sync` is false, fsyncs the file; answers its size. */
  async finish(sync = true): Promise<number> {
    await this.#write(Buffer.alloc(endBlocks), this.#end);
    this.#end += endBlocks;
    if (sync) await this.#handle.sync();
    return this.#end;
  }

  /** Closes the file (once; later calls do nothing). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }

  /** Writes `chunks` one after the other from `position` (one pwritev when the kernel takes all). */
  async #writev(chunks: Buffer[], position: number): Promise<void> {
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const { bytesWritten } = await this.#handle.writev(chunks, position);
    if (bytesWritten < total) {
      // A short write (a signal, a full disk's last bytes): the rest, written plainly.
      await this.#write(Buffer.concat(chunks).subarray(bytesWritten), position + bytesWritten);
    }
  }

  async #write(buffer: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buffer.length) {
      const { bytesWritten } = await this.#handle.write(
        buffer,
        done,
        buffer.length - done,
        position + done,
      );
      done += bytesWritten;
    }
  }
}

/**
 * A writable that puts what it is given at increasing positions of a file (positioned writes,
 * never through the file's offset), and never closes it: the file outlives the member.
 */
class PositionedWriter extends Writable {
  readonly #write: (chunks: Buffer[], position: number) => Promise<void>;
  /** Where the next byte goes. */
  position: number;

  constructor(write: (chunks: Buffer[], position: number) => Promise<void>, start: number) {
    // Big enough that gzip's and pack's chunks are gathered into few system calls.
    super({ highWaterMark: 1024 * 1024 });
    this.#write = write;
    this.position = start;
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.#put(
      chunks.map((entry) => entry.chunk),
      callback,
    );
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#put([chunk], callback);
  }

  #put(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    const at = this.position;
    this.position += chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.#write(chunks, at).then(() => {
      callback();
    }, callback);
  }
}
