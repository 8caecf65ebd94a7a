/**
 * Builds real archives, byte by byte, for tests of package handling. Written by hand on purpose:
 * normal tools refuse the hostile names (`../x`, `/etc/passwd`, `a\b`) and entry types that the
 * tests must feed to the reader.
 */
import { open, truncate as truncateFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, crc32, createDeflateRaw, deflateRawSync, gzipSync } from 'node:zlib';

/** One entry of a test archive. */
export interface ArchiveEntry {
  /** The name exactly as stored (folders get a trailing `/` when they lack one). */
  name: string;
  /** Default `file`. `hardlink` exists in tar only. */
  type?: 'file' | 'dir' | 'symlink' | 'fifo' | 'hardlink';
  /** A file's data. */
  content?: string | Buffer;
  /** Permission bits; default 0o644 for files, 0o755 for folders, 0o777 for symlinks. */
  mode?: number;
  /** Where a symlink or hard link points. */
  target?: string;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;

/** 2024-01-01 00:00 in MS-DOS format. */
const dosDate = ((2024 - 1980) << 9) | (1 << 5) | 1;
const dosTime = 0;
/** General purpose flag: the name is UTF-8. */
const utf8Flag = 0x800;
/** Version made by: Unix (3), spec 3.0, so readers take the mode from the external attributes. */
const madeByUnix = (3 << 8) | 30;

function defaultMode(type: ArchiveEntry['type']): number {
  if (type === 'dir') return 0o755;
  if (type === 'symlink') return 0o777;
  return 0o644;
}

function storedName(entry: ArchiveEntry): string {
  return entry.type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
}

interface ZipRecord {
  name: Buffer;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  externalAttributes: number;
  offset: number;
}

/**
 * The fields the local and the central header share, in the same order from `at`: the version
 * needed, the flags, the method, the time and date, the CRC, both sizes and the name's length.
 */
function writeSharedFields(
  header: Buffer,
  at: number,
  record: Omit<ZipRecord, 'externalAttributes' | 'offset'>,
): void {
  header.writeUInt16LE(20, at);
  header.writeUInt16LE(utf8Flag, at + 2);
  header.writeUInt16LE(record.method, at + 4);
  header.writeUInt16LE(dosTime, at + 6);
  header.writeUInt16LE(dosDate, at + 8);
  header.writeUInt32LE(record.crc >>> 0, at + 10);
  header.writeUInt32LE(record.compressedSize, at + 14);
  header.writeUInt32LE(record.size, at + 18);
  header.writeUInt16LE(record.name.length, at + 22);
}

function localHeader(record: Omit<ZipRecord, 'externalAttributes' | 'offset'>): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  writeSharedFields(header, 4, record);
  header.writeUInt16LE(0, 28);
  return Buffer.concat([header, record.name]);
}

function centralDirectory(records: ZipRecord[], offset: number): Buffer {
  const parts = records.map((record) => {
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(madeByUnix, 4);
    writeSharedFields(header, 6, record);
    header.writeUInt16LE(0, 30); // extra field length
    header.writeUInt16LE(0, 32); // comment length
    header.writeUInt16LE(0, 34); // disk
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE(record.externalAttributes >>> 0, 38);
    header.writeUInt32LE(record.offset, 42);
    return Buffer.concat([header, record.name]);
  });
  const directory = Buffer.concat(parts);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([directory, end]);
}

/**
 * Writes a zip with the entries in order. File data is deflated unless `store` is set; a
 * symlink's data is its target, and its type lives in the Unix mode of the external attributes.
 */
export async function makeZip(
  path: string,
  entries: ArchiveEntry[],
  options: { store?: boolean } = {},
): Promise<void> {
  const parts: Buffer[] = [];
  const records: ZipRecord[] = [];
  let offset = 0;
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    if (type === 'hardlink') throw new Error('a zip has no hard links');
    const typeBits = { file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO }[type];
    const data =
      type === 'symlink'
        ? Buffer.from(entry.target ?? '')
        : type === 'file'
          ? Buffer.from(entry.content ?? '')
          : Buffer.alloc(0);
    const deflate = options.store !== true && data.length > 0;
    const stored = deflate ? deflateRawSync(data) : data;
    const mode = (typeBits | (entry.mode ?? defaultMode(type))) << 16;
    const record: ZipRecord = {
      name: Buffer.from(storedName(entry)),
      method: deflate ? 8 : 0,
      crc: crc32(data),
      compressedSize: stored.length,
      size: data.length,
      externalAttributes: type === 'dir' ? mode | 0x10 : mode,
      offset,
    };
    const header = localHeader(record);
    parts.push(header, stored);
    records.push(record);
    offset += header.length + stored.length;
  }
  parts.push(centralDirectory(records, offset));
  await writeFile(path, Buffer.concat(parts));
}

/**
 * Writes a zip holding one deflated file `<id>/zeros` of `bytes` zeros, streamed through the
 * compressor so that a 1 GB bomb is built without 1 GB in memory (it is about 1 MB on disk).
 */
export async function makeZeroBombZip(path: string, id: string, bytes: number): Promise<void> {
  const name = Buffer.from(`${id}/zeros`);
  const zeros = Buffer.alloc(1024 * 1024);
  let crc = 0;
  for (let left = bytes; left > 0; left -= zeros.length) {
    crc = crc32(left >= zeros.length ? zeros : zeros.subarray(0, left), crc);
  }
  const handle = await open(path, 'w');
  try {
    const dataStart = 30 + name.length;
    let position = dataStart;
    await pipeline(
      Readable.from(
        (function* () {
          for (let left = bytes; left > 0; left -= zeros.length) {
            yield left >= zeros.length ? zeros : zeros.subarray(0, left);
          }
        })(),
      ),
      createDeflateRaw({ level: 9, strategy: constants.Z_RLE }),
      async (compressed: AsyncIterable<Buffer>) => {
        for await (const chunk of compressed) {
          await handle.write(chunk, 0, chunk.length, position);
          position += chunk.length;
        }
      },
    );
    const record: ZipRecord = {
      name,
      method: 8,
      crc,
      compressedSize: position - dataStart,
      size: bytes,
      externalAttributes: (S_IFREG | 0o644) << 16,
      offset: 0,
    };
    await handle.write(localHeader(record), 0, dataStart, 0);
    const tail = centralDirectory([record], position);
    await handle.write(tail, 0, tail.length, position);
  } finally {
    await handle.close();
  }
}

const tarTypes = { file: '0', hardlink: '1', symlink: '2', fifo: '6', dir: '5' } as const;

function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

/** One 512-byte ustar header; names over 100 bytes go into the prefix field when they can. */
function tarHeader(entry: ArchiveEntry, size: number): Buffer {
  const header = Buffer.alloc(512);
  let name = storedName(entry);
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new Error(`name too long for a ustar header: ${entry.name}`);
    }
  }
  const type = entry.type ?? 'file';
  header.write(name, 0, 100, 'utf8');
  writeOctal(header, entry.mode ?? defaultMode(type), 100, 8);
  writeOctal(header, 0, 108, 8); // uid
  writeOctal(header, 0, 116, 8); // gid
  writeOctal(header, size, 124, 12);
  writeOctal(header, Math.floor(Date.UTC(2024, 0, 1) / 1000), 136, 12);
  header.write(tarTypes[type], 156, 1, 'latin1');
  if (entry.target !== undefined) header.write(entry.target, 157, 100, 'utf8');
  header.write('ustar\0', 257, 6, 'latin1');
  header.write('00', 263, 2, 'latin1');
  header.write(prefix, 345, 155, 'utf8');
  header.fill(' ', 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return header;
}

/** The bytes of a ustar archive with the entries in order, ended by two zero blocks. */
export function tarBytes(entries: ArchiveEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = (entry.type ?? 'file') === 'file' ? Buffer.from(entry.content ?? '') : undefined;
    parts.push(tarHeader(entry, data?.length ?? 0));
    if (data !== undefined && data.length > 0) {
      parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Writes a plain (uncompressed) tar. */
export async function makeTar(path: string, entries: ArchiveEntry[]): Promise<void> {
  await writeFile(path, tarBytes(entries));
}

/** Writes a gzip-compressed tar. */
export async function makeTarGz(path: string, entries: ArchiveEntry[]): Promise<void> {
  await writeFile(path, gzipSync(tarBytes(entries)));
}

/** Cuts a file down to its first `keepBytes` bytes: a truncated download. */
export async function truncate(path: string, keepBytes: number): Promise<void> {
  await truncateFile(path, keepBytes);
}
